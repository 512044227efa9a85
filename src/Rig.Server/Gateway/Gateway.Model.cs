using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>Saving a model: what was saved, or why nothing was.</summary>
public sealed record ApplyResult(ModelSaveResult? Saved, IReadOnlyList<ModelError> Errors, IReadOnlyList<ModelChange> Changes);

public sealed partial class Gateway
{
    /// <summary>Validate <paramref name="proposed"/> (its package list is replaced by the store's catalog), pin
    /// every role version to the exact digests it installs, refuse a role version that would now install other
    /// digests than when it was applied, and save a new revision with author and message. Nothing is saved
    /// when there is any error. Nothing is sent to any device.</summary>
    public async Task<ApplyResult> ApplyAsync(RigModel proposed, string author, string message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        var catalog = await store.ListPackagesAsync(ct).ConfigureAwait(false);
        var model = proposed with { Packages = catalog };
        var errors = ModelValidator.Validate(model).ToList();
        if (errors.Count > 0)
            return new ApplyResult(null, errors, []);

        var index = new ModelIndex(model);
        var (_, current) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var currentRoles = current.Roles.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var pinned = new List<Role>();
        foreach (var role in model.Roles)
        {
            var pins = RolePins.Compute(index, role);
            if (currentRoles.TryGetValue(role.Name, out var before) && before.Version == role.Version && before.Pins.Count > 0 && !SamePins(before.Pins, pins))
            {
                var changed = pins.Keys.Union(before.Pins.Keys).Where(k => before.Pins.GetValueOrDefault(k) != pins.GetValueOrDefault(k)).Order(StringComparer.Ordinal);
                errors.Add(new ModelError("role.version-reused", $"roles/{role.Name}/version",
                    $"Role '{role.Name}' version {role.Version} was applied with other packages ({string.Join(", ", changed)}); a role version pins exact package digests: give the changed role a new version."));
            }
            pinned.Add(role with { Pins = pins });
        }
        if (errors.Count > 0)
            return new ApplyResult(null, errors, []);
        model = model with { Roles = pinned };
        var changes = await store.DiffWithCurrentAsync(model, ct).ConfigureAwait(false);
        var saved = await store.SaveModelAsync(model, author, message, ct).ConfigureAwait(false);
        return new ApplyResult(saved, [], changes);
    }

    private static bool SamePins(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
