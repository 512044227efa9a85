using System.Globalization;

namespace Rig.Model.Planning;

/// <summary>Splits devices into rollout waves: a canary wave of N devices first, then batches of N devices
/// or P% of all devices (at least one). Pure and deterministic: the order given is kept.</summary>
public static class Waves
{
    /// <summary>Assign waves among the devices that will change, in the order given: the canary is the first device
    /// that changes and batch sizes (a percentage too) count only devices that change. A device with nothing to do
    /// gets no wave (null): it is not sent anything, and it does not count towards a batch.</summary>
    public static IReadOnlyList<(string Device, int? Wave)> AssignChanging(IReadOnlyList<(string Device, bool Changes)> devices, int canary, string batch)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var changing = devices.Where(d => d.Changes).Select(d => d.Device).ToList();
        var waves = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (device, wave) in Assign(changing, canary, batch))
            waves[device] = wave;
        return [.. devices.Select(d => (d.Device, d.Changes ? waves[d.Device] : (int?)null))];
    }

    /// <summary>Assign a wave to each device.</summary>
    public static IReadOnlyList<(string Device, int Wave)> Assign(IReadOnlyList<string> devices, int canary, string batch)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (canary < 0)
            throw new FormatException($"Canary {canary} is negative; give 0 for no canary wave.");
        var size = BatchSize(batch, devices.Count);
        var result = new List<(string, int)>(devices.Count);
        var wave = 0;
        var index = 0;
        if (canary > 0)
        {
            for (; index < Math.Min(canary, devices.Count); index++)
                result.Add((devices[index], 0));
            wave = 1;
        }
        for (var inWave = 0; index < devices.Count; index++)
        {
            if (inWave == size)
            {
                wave++;
                inWave = 0;
            }
            result.Add((devices[index], wave));
            inWave++;
        }
        return result;
    }

    /// <summary>Parse a batch (<c>5</c> or <c>25%</c>) into a number of devices for <paramref name="total"/> devices.</summary>
    public static int BatchSize(string batch, int total)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var text = batch.Trim();
        if (text.EndsWith('%'))
        {
            if (!double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) || percent is <= 0 or > 100)
                throw new FormatException($"Batch '{batch}' is not a percentage between 0 and 100 (e.g. 25%).");
            return Math.Max(1, (int)Math.Ceiling(total * percent / 100));
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
            throw new FormatException($"Batch '{batch}' is neither a number of devices (at least 1) nor a percentage (e.g. 25%).");
        return count;
    }
}
