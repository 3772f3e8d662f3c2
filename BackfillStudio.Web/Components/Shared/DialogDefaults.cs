using MudBlazor;

namespace BackfillStudio.Web.Components.Shared;

public static class DialogDefaults
{
    /// <summary>Form dialogs: keyboard focus starts on the first field, Escape closes them.</summary>
    public static readonly DialogOptions Form = new()
    {
        MaxWidth = MaxWidth.Small, FullWidth = true, CloseOnEscapeKey = true, CloseButton = true, DefaultFocus = DefaultFocus.FirstChild,
    };

    /// <summary>A form dialog with room for a row of filter fields.</summary>
    public static readonly DialogOptions WideForm = Form with { MaxWidth = MaxWidth.Medium };
}
