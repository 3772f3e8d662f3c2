using BackfillStudio.Web;

var app = await BackfillStudioApp.BuildAsync(args);
await app.RunAsync();
