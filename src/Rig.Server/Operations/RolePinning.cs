using Rig.Model.Domain;
using Rig.Model.Planning;

namespace Rig.Server.Operations;

/// <summary>Role versions pin exact package digests: what apply stores, and what a plan of a proposed model must
/// compare with the stored model (else every role with packages would look changed).</summary>
internal static class RolePinning
{
    /// <summary><paramref name="model"/> (whose Packages is the catalog) with every role's pins computed, or the
    /// roles whose version was applied with other digests than it would install now.</summary>
    public static (RigModel Model, IReadOnlyList<ModelError> Errors) Pin(RigModel model, RigModel current)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(current);
        var index = new ModelIndex(model);
        var currentRoles = current.Roles.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var errors = new List<ModelError>();
        var pinned = new List<Role>();
        foreach (var role in model.Roles)
        {
            var sameVersion = currentRoles.TryGetValue(role.Name, out var before) && before.Version == role.Version && before.Pins.Count > 0;
            var pins = RolePins.Compute(index, role, sameVersion ? before!.Pins : null);
            if (sameVersion && !KeepsPins(before!.Pins, pins))
            {
                var changed = before!.Pins.Keys.Where(k => before.Pins.GetValueOrDefault(k) != pins.GetValueOrDefault(k)).Order(StringComparer.Ordinal);
                errors.Add(new ModelError("role.version-reused", $"roles/{role.Name}/version",
                    $"Role '{role.Name}' version {role.Version} was applied with other packages ({string.Join(", ", changed)}); a role version pins exact package digests: give the changed role a new version."));
            }
            pinned.Add(role with { Pins = pins });
        }
        return (model with { Roles = pinned }, errors);
    }

    /// <summary>Every package the role version was applied with is still pinned to the same digest. New entries are
    /// dependencies the catalog did not have then (or that older versions of Rig did not pin): adding them changes
    /// nothing a device already had installed under this version.</summary>
    private static bool KeepsPins(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> now) =>
        before.All(kv => now.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
