using Rig.Model.Domain;
using Rig.Server.Security;

namespace Rig.Server.Gateway;

internal sealed partial class Gateway
{
    /// <summary>The devices among <paramref name="devices"/> on which <paramref name="operatorName"/> does not hold
    /// <paramref name="verb"/> now, with their grants read afresh and the devices placed in <paramref name="model"/>: the
    /// check made again when work starts on an operator's behalf (a rollout's next wave, a rollout resumed after a
    /// restart), so a revoked grant stops what its holder started.</summary>
    internal async Task<IReadOnlyList<string>> DevicesRefusedAsync(string operatorName, Verb verb, IEnumerable<string> devices, RigModel model, CancellationToken ct)
    {
        var grants = await store.GrantsOfOperatorAsync(operatorName, ct).ConfigureAwait(false);
        var places = new ModelPlaces(model);
        return [.. devices.Where(d => !Rights.Allows(grants, verb, places.Device(d) ?? Place.Provider))];
    }
}
