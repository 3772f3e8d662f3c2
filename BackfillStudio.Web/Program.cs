using BackfillStudio.Web;
using BackfillStudio.Web.Health;

if (args is [HealthProbe.Command, ..]) return await HealthProbe.RunAsync(args.ElementAtOrDefault(1));

var app = await BackfillStudioApp.BuildAsync(args);
await app.RunAsync();
return 0;
