namespace BackfillStudio.Web.Access;

/// <summary>The three roles and the policies built from them: each role can do what the one before it can.</summary>
public static class AccessRoles
{
    /// <summary>Manages users, API keys, sources, destinations and pipelines; and all an Operator does.</summary>
    public const string Admin = "Admin";

    /// <summary>Creates, cancels and deletes backfills; and all a Viewer does.</summary>
    public const string Operator = "Operator";

    /// <summary>Reads everything, changes nothing.</summary>
    public const string Viewer = "Viewer";

    public static readonly string[] All = [Admin, Operator, Viewer];

    public const string ViewPolicy = "view";
    public const string OperatePolicy = "operate";
    public const string AdministerPolicy = "administer";
}
