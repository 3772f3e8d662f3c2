using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace BackfillStudio.Engine.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the app.</summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<ConfigDbContext>
{
    public ConfigDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<ConfigDbContext>();
        ConfigDatabase.Configure(options, "Host=localhost;Database=design_time");
        return new ConfigDbContext(options.Options);
    }
}
