namespace Rig.Protocol.Tests;

/// <summary>CHECKLIST 3: the side that retries backs off exponentially, with jitter, within fixed bounds.</summary>
public sealed class RigLimitsTests
{
    private static readonly RigLimits Limits = RigLimits.Default;
    private static readonly double Initial = Limits.RetryInitialDelay.TotalMilliseconds;
    private static readonly double Max = Limits.RetryMaxDelay.TotalMilliseconds;

    /// <summary>A random source that always draws the same number, to reach the edges of the jitter.</summary>
    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }

    private static double[] Draw(int attempt, int count, int seed = 42)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Limits.RetryDelay(attempt, random).TotalMilliseconds).ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(20)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void Delay_stays_between_a_quarter_of_the_initial_delay_and_the_capped_exponential(int attempt)
    {
        var ceiling = Math.Min(Max, Initial * Math.Pow(2, Math.Min(attempt, 30)));

        Assert.All(Draw(attempt, 2000), ms => Assert.InRange(ms, Initial / 4, ceiling));
    }

    [Fact]
    public void Delay_ceiling_doubles_with_each_attempt_until_the_maximum()
    {
        var almostOne = new FixedRandom(0.999999999);
        var ceilings = Enumerable.Range(0, 12).Select(a => Limits.RetryDelay(a, almostOne).TotalMilliseconds).ToArray();

        Assert.Equal(Initial, ceilings[0], precision: 3);
        for (var a = 1; a < ceilings.Length; a++)
            Assert.Equal(Math.Min(Max, Initial * Math.Pow(2, a)), ceilings[a], precision: 3);
        Assert.Equal(Max, ceilings[^1], precision: 3);
    }

    [Fact]
    public void Later_attempts_wait_longer_on_average()
    {
        var means = new[] { 0, 2, 4, 6 }.Select(a => Draw(a, 2000).Average()).ToArray();

        for (var i = 1; i < means.Length; i++)
            Assert.True(means[i] > means[i - 1] * 1.5, $"mean delay of step {i} ({means[i]:F0} ms) is not well above step {i - 1} ({means[i - 1]:F0} ms)");
    }

    [Fact]
    public void Delay_is_capped_by_the_maximum_however_many_attempts_failed()
    {
        var delays = Draw(50, 2000);

        Assert.All(delays, ms => Assert.True(ms <= Max));
        Assert.True(delays.Max() > Max * 0.95, "full jitter should reach close to the cap over 2000 draws");
    }

    [Fact]
    public void Delay_is_never_below_a_quarter_of_the_initial_delay_even_when_the_draw_is_zero()
    {
        Assert.Equal(Initial / 4, Limits.RetryDelay(0, new FixedRandom(0)).TotalMilliseconds, precision: 3);
        Assert.Equal(Initial / 4, Limits.RetryDelay(10, new FixedRandom(0)).TotalMilliseconds, precision: 3);
    }

    [Fact]
    public void Delays_are_jittered_so_agents_do_not_retry_together()
    {
        var delays = Draw(5, 1000);

        Assert.True(delays.Distinct().Count() > 900, "1000 draws should give almost 1000 different delays");
        Assert.True(delays.Min() < delays.Max() / 4, "the spread of delays should cover most of the window");
    }

    [Fact]
    public void Delay_follows_the_limits_it_is_given()
    {
        var limits = Limits with { RetryInitialDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromSeconds(3) };

        Assert.Equal(TimeSpan.FromMilliseconds(250), limits.RetryDelay(0, new FixedRandom(0)));
        Assert.Equal(3000, limits.RetryDelay(9, new FixedRandom(0.999999999)).TotalMilliseconds, precision: 3);
    }

    [Fact]
    public void RetryDelay_refuses_a_null_random_source()
    {
        Assert.Throws<ArgumentNullException>(() => Limits.RetryDelay(0, null!));
    }

    [Fact]
    public void Default_limits_keep_their_documented_relations()
    {
        Assert.True(Limits.RetryInitialDelay < Limits.RetryMaxDelay);
        Assert.True(Limits.MaxConfigFileBytes < Limits.MaxResponseBodyBytes, "a write-file command must fit in a response");
        Assert.True(Limits.MaxPackageBytes <= Limits.MaxUnpackedBytes);
        Assert.Equal(32, Limits.MaxJsonDepth);
    }
}
