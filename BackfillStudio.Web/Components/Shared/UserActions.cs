using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Web.Access;
using MudBlazor;

namespace BackfillStudio.Web.Components.Shared;

/// <summary>Runs a user's action and reports its outcome in a snackbar; a refused action leaves the page usable.</summary>
public static class UserActions
{
    public static async Task<bool> RunAsync(this ISnackbar snackbar, Func<Task> action, string successMessage)
    {
        try
        {
            await action();
            snackbar.Add(successMessage, Severity.Success);
            return true;
        }
        catch (Exception e) when (e is ConflictException or NotFoundException or SourceUnavailableException or ValidationFailedException
                                      || ConfigDbContext.ConcurrentChangeMessage(e) is not null)
        {
            snackbar.Add(ConfigDbContext.ConcurrentChangeMessage(e) ?? e.Message, Severity.Error);
            return false;
        }
    }

    public const string NotAllowed = "Your role does not allow this action.";

    /// <summary>Checks the role on the server before an action; a refusal is reported, not thrown.</summary>
    public static async Task<bool> AllowsAsync(this CurrentUser user, string policy, ISnackbar snackbar)
    {
        if (await user.IsAllowedAsync(policy)) return true;
        snackbar.Add(NotAllowed, Severity.Error);
        return false;
    }

    public static async Task<bool> ConfirmDeleteAsync(this IDialogService dialogs, string what, string details) =>
        await dialogs.ShowMessageBoxAsync($"Delete {what}", $"Delete {details}? This cannot be undone.", yesText: "Delete", cancelText: "Keep") == true;

    public static void ReportTest(this ISnackbar snackbar, string what, ConnectionTestResult result) =>
        snackbar.Add(result.Success ? $"{what}: connected — {result.ServerVersion}" : $"{what}: {result.Error}",
            result.Success ? Severity.Success : Severity.Error);
}
