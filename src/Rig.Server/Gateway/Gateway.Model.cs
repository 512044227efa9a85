using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>Saving a model: what was saved, or why nothing was (<c>Errors</c>: the model's; <c>Moved</c>: what changed
/// since the plan the save expected).</summary>
internal sealed record ApplyResult(ModelSaveResult? Saved, IReadOnlyList<ModelError> Errors, IReadOnlyList<ModelChange> Changes)
{
    /// <summary>What moved since the plan (<see cref="ModelSaveExpectation"/>): nothing was saved.</summary>
    public IReadOnlyList<ModelError> Moved { get; init; } = [];
}

internal sealed partial class Gateway
{
    /// <summary>Validate <paramref name="proposed"/> (its package list is replaced by the store's catalog), pin
    /// every role version to the exact digests it installs, refuse a role version that would now install other
    /// digests than when it was applied, and save a new revision with author and message. Nothing is saved
    /// when there is any error. Nothing is sent to any device.</summary>
    public async Task<ApplyResult> ApplyAsync(RigModel proposed, string author, string message, CancellationToken ct) =>
        await ApplyAsync(proposed, author, message, null, ct).ConfigureAwait(false);

    /// <summary><see cref="ApplyAsync(RigModel, string, string, CancellationToken)"/>, saved only when nothing moved
    /// since the plan <paramref name="expect"/> describes (checked atomically with the save; a saved plan).</summary>
    public async Task<ApplyResult> ApplyAsync(RigModel proposed, string author, string message, ModelSaveExpectation? expect, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        var catalog = await store.ListPackagesAsync(ct).ConfigureAwait(false);
        var (currentRev, current) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var (kept, placeholderErrors) = SecretParameters.KeepStored(proposed, current); // "********" keeps the stored secret
        if (placeholderErrors.Count > 0)
            return new ApplyResult(null, placeholderErrors, []);
        var model = kept with { Packages = catalog };
        var errors = ModelValidator.Validate(model).ToList();
        if (errors.Count > 0)
            return new ApplyResult(null, errors, []);

        if (expect is not null && currentRev != expect.BaseRevision)
            return new ApplyResult(null, [], []) { Moved = [RigStore.RevisionMoved(currentRev, expect.BaseRevision)] }; // checked again when saving
        var (pinned, pinErrors) = RolePinning.Pin(model, current);
        if (pinErrors.Count > 0)
            return new ApplyResult(null, pinErrors, []);
        model = pinned;
        var changes = await store.DiffWithCurrentAsync(model, ct).ConfigureAwait(false);
        var (saved, moved) = await store.SaveModelAsync(model, author, message, expect, ct).ConfigureAwait(false);
        return new ApplyResult(saved, [], changes) { Moved = moved };
    }
}
