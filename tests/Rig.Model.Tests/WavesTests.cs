using Rig.Model.Planning;

namespace Rig.Model.Tests;

/// <summary>Rollout waves are chosen among the devices that will change; devices with nothing to do are in none.</summary>
public class WavesTests
{
    private static IReadOnlyList<(string Device, bool Changes)> Devices(params string[] names) =>
        [.. names.Select(n => (n.TrimEnd('='), !n.EndsWith('=')))]; // "lb-1=" has nothing to do

    [Fact]
    public void The_canary_is_the_first_device_that_changes_not_the_first_device()
    {
        var waves = Waves.AssignChanging(Devices("lb-1=", "web-1", "web-2", "web-3"), canary: 1, batch: "1");
        Assert.Equal([("lb-1", null), ("web-1", 0), ("web-2", 1), ("web-3", 2)], waves.Select(w => (w.Device, w.Wave)));
    }

    [Fact]
    public void Batch_percentages_count_only_the_devices_that_change()
    {
        // 8 devices, 4 of them unchanged: 50% is 2 devices per wave (of the 4 that change), not 4.
        var waves = Waves.AssignChanging(Devices("a=", "b", "c=", "d", "e=", "f", "g=", "h"), canary: 0, batch: "50%");
        Assert.Equal([("a", null), ("b", 0), ("c", null), ("d", 0), ("e", null), ("f", 1), ("g", null), ("h", 1)], waves.Select(w => (w.Device, w.Wave)));
    }

    [Fact]
    public void Unchanged_devices_do_not_fill_a_numbered_batch()
    {
        var waves = Waves.AssignChanging(Devices("a", "b=", "c=", "d", "e"), canary: 1, batch: "2");
        Assert.Equal([("a", 0), ("b", null), ("c", null), ("d", 1), ("e", 1)], waves.Select(w => (w.Device, w.Wave)));
    }

    [Fact]
    public void When_no_device_changes_there_are_no_waves()
    {
        var waves = Waves.AssignChanging(Devices("a=", "b="), canary: 1, batch: "25%");
        Assert.All(waves, w => Assert.Null(w.Wave));
    }

    [Fact]
    public void A_bad_batch_is_refused_even_when_no_device_changes()
    {
        var e = Assert.Throws<FormatException>(() => Waves.AssignChanging(Devices("a="), canary: 0, batch: "0%"));
        Assert.Contains("'0%'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1h30m", 5400)]
    [InlineData(" 5s ", 5)]
    public void Durations_read_numbers_with_units(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out var value, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
        Assert.True(Durations.TryParse(Durations.Format(value), out var again, out _));
        Assert.Equal(value, again);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("30", "'30' is not a duration")]
    [InlineData("5x", "unknown unit 'x'")]
    [InlineData("-5m", "'-5m' is not a duration")]
    [InlineData("m", "'m' is not a duration")]
    [InlineData("1.5h", "'1.5h' is not a duration")]
    public void Durations_that_are_not_durations_are_refused_with_the_value_and_the_units(string text, string expected)
    {
        Assert.False(Durations.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("s, m, h or d", error, StringComparison.Ordinal);
    }
}
