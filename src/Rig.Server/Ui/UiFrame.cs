namespace Rig.Server.Ui;

/// <summary>What every page of the web UI is drawn with besides its own data: who is signed in, the session's
/// anti-forgery token for forms, the page's path (to mark the menu), a message left by the last action, and what the
/// operator may do (the same predicate as the API; pages only use it to leave out buttons, every action is checked
/// again when posted). Pages are views: the endpoints read the data through the services and pass it in.</summary>
public sealed record UiFrame
{
    /// <summary>The signed-in operator's name.</summary>
    public required string Operator { get; init; }

    /// <summary>The teams the operator belongs to.</summary>
    public IReadOnlyList<string> Teams { get; init; } = [];

    /// <summary>The anti-forgery token every form posts back as <c>_csrf</c>.</summary>
    public required string Csrf { get; init; }

    /// <summary>The request path, to mark where the operator is in the menu.</summary>
    public required string Path { get; init; }

    /// <summary>A one-line outcome of the action just taken, or null.</summary>
    public string? Flash { get; init; }

    /// <summary>True when <see cref="Flash"/> reports a refusal or failure.</summary>
    public bool FlashIsError { get; init; }

    /// <summary>May the operator use verb (<c>read</c>, <c>plan</c>, <c>edit</c>, <c>approve</c>, <c>rollout</c>,
    /// <c>run-script</c>, <c>manage-packages</c>, <c>manage-devices</c>, <c>manage-trust</c>) on the device (or, with
    /// null, anywhere at all)?</summary>
    public required Func<string, string?, bool> May { get; init; }

    /// <summary>May the operator use verb on the provider's own objects (the package store, trust)?</summary>
    public required Func<string, bool> MayOnEverything { get; init; }

    /// <summary>Where the rendering started (for the footer's render time).</summary>
    public long StartedAt { get; init; } = System.Diagnostics.Stopwatch.GetTimestamp();
}
