using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Web.Access;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace BackfillStudio.Web.Components.Shared;

/// <summary>
/// What the source and destination dialogs share: one action at a time (Save, Test connection), validation
/// errors shown on their fields and the last connection test's outcome.
/// </summary>
public abstract class SettingsDialogBase : ComponentBase
{
    [CascadingParameter] protected IMudDialogInstance Dialog { get; set; } = null!;

    [Inject] private CurrentUser User { get; set; } = null!;

    protected FieldErrors Errors { get; private set; } = FieldErrors.None;

    protected ConnectionTestResult? TestResult { get; set; }

    protected bool Busy { get; private set; }

    protected async Task RunAsync(Func<Task> action)
    {
        if (Busy) return;
        Busy = true;
        Errors = FieldErrors.None;
        TestResult = null;
        try
        {
            // Checked again here: the role may have changed since the page opened the dialog.
            if (await User.IsAllowedAsync(AccessRoles.AdministerPolicy)) await action();
            else TestResult = new ConnectionTestResult(false, null, UserActions.NotAllowed);
        }
        catch (ValidationFailedException e)
        {
            Errors = new FieldErrors(e);
        }
        catch (Exception e) when (e is NotFoundException or ConflictException || ConfigDbContext.ConcurrentChangeMessage(e) is not null)
        {
            TestResult = new ConnectionTestResult(false, null, ConfigDbContext.ConcurrentChangeMessage(e) ?? e.Message);
        }
        finally
        {
            Busy = false;
        }
    }
}
