# Production image: build with the .NET SDK, run on the ASP.NET runtime as a non-root user.
#   docker build -t backfillstudio .
#   docker run -p 8080:8080 -e ConnectionStrings__Config="Host=...;Database=...;Username=...;Password=..." backfillstudio
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props appsettings.json ./
COPY BackfillStudio.Engine/BackfillStudio.Engine.csproj BackfillStudio.Engine/
COPY BackfillStudio.Web/BackfillStudio.Web.csproj BackfillStudio.Web/
RUN dotnet restore BackfillStudio.Web/BackfillStudio.Web.csproj
COPY BackfillStudio.Engine/ BackfillStudio.Engine/
COPY BackfillStudio.Web/ BackfillStudio.Web/
RUN dotnet publish BackfillStudio.Web/BackfillStudio.Web.csproj -c Release --no-restore -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# JSON log lines with their scopes: every engine line carries its JobId.
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    Logging__Console__FormatterName=json \
    Logging__Console__FormatterOptions__IncludeScopes=true
EXPOSE 8080
# The image's unprivileged "app" user; DuckDB and Parquet destinations write under /data.
RUN mkdir /data && chown "$APP_UID" /data
VOLUME /data
USER $APP_UID
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["dotnet", "BackfillStudio.Web.dll", "health-probe", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["dotnet", "BackfillStudio.Web.dll"]
