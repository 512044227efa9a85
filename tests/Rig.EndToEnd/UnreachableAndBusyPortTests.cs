using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Rig.EndToEnd.Harness;
using Rig.Server.Gateway;

namespace Rig.EndToEnd;

/// <summary>Issue 11, 9: a gateway that is not there yet, a port another process holds, a refused token. The real
/// processes retry what waiting can fix, and otherwise end with one line naming what to change, never a stack trace.</summary>
public sealed partial class UnreachableAndBusyPortTests
{
    private static readonly string Pin = "sha256:" + new string('0', 64);

    /// <summary>A .NET stack frame, on a line of its own (an unhandled exception) or inside a log line.</summary>
    [GeneratedRegex(@"\s+at [\w.`<>\[\],|]+\(")]
    private static partial Regex StackFrame();

    /// <summary>Output with runs of blanks and line breaks made one space (a console may wrap long lines).</summary>
    private static string Flat(string text) => Regex.Replace(text, @"\s+", " ");

    private static string[] ErrorLines(string output) => [.. output.Split('\n').Where(l => l.TrimStart().StartsWith("error:", StringComparison.Ordinal))];

    [Fact]
    public async Task Enrollment_succeeds_when_the_gateway_starts_listening_only_after_the_agent_began_trying()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"]));
        var token = await site.Api.PostAsync<EnrollmentToken>("api/v1/devices/web-1/enrollment-token", null);
        await live.Gateway.KillAsync(); // nothing listens on the agent port now

        await using var enroll = RunningRig.Start("agent", "enroll", "--state", site.State("web-1"), "--gateway", site.AgentUrl.ToString(), "--device", "web-1",
            "--token", token.Token, "--ca-pin", token.CaPin, "--poke-address", "127.0.0.1", "--poke-port", "0", "--sandbox-root", site.Root("web-1"));
        static bool Retried(string line) => line.Contains("gateway-unavailable", StringComparison.Ordinal);
        await enroll.WaitForLinesAsync(Retried, 1, TimeSpan.FromMinutes(2), "a refused connection retried");

        // Then something accepts and resets the connection (a host still starting, a proxy before its backend): retried too.
        var before = enroll.Count(Retried);
        using (var resetter = new TcpListener(IPAddress.Loopback, live.Gateway.AgentPort))
        {
            resetter.Start();
            using var accepted = await resetter.AcceptSocketAsync().WaitAsync(TimeSpan.FromMinutes(2));
            accepted.LingerState = new LingerOption(true, 0); // close with RST
            accepted.Close();
            await enroll.WaitForLinesAsync(Retried, before + 1, TimeSpan.FromMinutes(2), "a reset connection retried");
        }

        await live.Gateway.StartAsync();
        var code = await enroll.WaitForExitAsync(TimeSpan.FromMinutes(5));

        Assert.True(code == 0, $"enroll failed ({code}):\n{enroll.Output}");
        Assert.True(File.Exists(Path.Combine(site.State("web-1"), "agent.crt")));
        Assert.DoesNotMatch(StackFrame(), enroll.Output);
        await site.Api.PostAsync<EnrollmentToken>("api/v1/devices/web-1/enrollment-token", null); // the gateway is the same one, working
    }

    [Fact]
    public async Task Enrollment_that_never_reaches_a_gateway_exits_69_with_one_line_naming_the_gateway_and_what_to_check()
    {
        using var dir = new TempDirectory();
        var port = LoopbackPorts.Free(1)[0]; // nobody listens there
        var url = $"https://localhost:{port}/";

        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(3), "agent", "enroll", "--state", Path.Combine(dir.Path, "state"), "--gateway", url,
            "--device", "web-1", "--token", "rigenroll_never-sent", "--ca-pin", Pin, "--sandbox-root", Path.Combine(dir.Path, "root"), "--wait-for-gateway", "3");

        Assert.True(code == 69, $"exit {code}:\n{stderr}{stdout}");
        var error = Assert.Single(ErrorLines(stderr));
        Assert.Contains(url, error, StringComparison.Ordinal);
        Assert.Contains("Connection refused", error, StringComparison.Ordinal);
        Assert.Contains("(DNS)", error, StringComparison.Ordinal);
        Assert.Contains($"port {port} is reachable", error, StringComparison.Ordinal);
        Assert.Contains("`rig server run` is running", error, StringComparison.Ordinal);
        Assert.Contains("gateway-unavailable", stderr, StringComparison.Ordinal); // it did retry before giving up
        Assert.DoesNotMatch(StackFrame(), stderr + stdout);
        Assert.False(File.Exists(Path.Combine(dir.Path, "state", "agent.crt")));
    }

    [Fact]
    public async Task A_refused_enrollment_token_fails_at_once_with_exit_1_and_is_not_retried()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        var pin = Rig.Server.Security.CertificateAuthority.PinOf(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(gateway.CaPath)));

        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(3), "agent", "enroll", "--state", Path.Combine(dir.Path, "state"), "--gateway", gateway.AgentUrl.ToString(),
            "--device", "web-1", "--token", "rigenroll_not-a-real-token", "--ca-pin", pin, "--sandbox-root", Path.Combine(dir.Path, "root"));

        Assert.True(code == 1, $"exit {code}:\n{stderr}{stdout}");
        var error = Assert.Single(ErrorLines(stderr));
        Assert.Contains("refused the enrollment", error, StringComparison.Ordinal);
        Assert.Contains("rig device token web-1", error, StringComparison.Ordinal);
        Assert.DoesNotContain("gateway-unavailable", stderr, StringComparison.Ordinal);
        Assert.DoesNotMatch(StackFrame(), stderr + stdout);
    }

    [Theory]
    [InlineData("agent endpoint", "--agent-port")]
    [InlineData("operator API", "--api-port")]
    public async Task Gateway_on_a_port_in_use_exits_1_with_one_line_naming_the_port_and_the_option_to_choose_another(string listener, string option)
    {
        using var dir = new TempDirectory();
        var data = Path.Combine(dir.Path, "gateway");
        var ports = LoopbackPorts.Free(2);
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), "server", "init", "--data", data, "--agent-listen", "127.0.0.1",
            "--agent-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture), "--api-port", ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
        Assert.True(code == 0, stderr + stdout);
        var busy = option == "--agent-port" ? ports[0] : ports[1];
        using var other = new TcpListener(IPAddress.Loopback, busy); // another process's server
        other.Start();

        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), "server", "run", "--data", data);

        Assert.True(code == 1, $"exit {code}:\n{stderr}{stdout}");
        Assert.Contains($"port {busy} ({listener}) is in use by another process; choose {option}", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.DoesNotMatch(StackFrame(), stderr + stdout);
        Assert.DoesNotContain("rig gateway listening", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_whose_poke_port_is_in_use_exits_1_with_one_line_naming_the_port_and_the_option()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"]));
        var token = await site.Api.PostAsync<EnrollmentToken>("api/v1/devices/web-1/enrollment-token", null);
        var poke = LoopbackPorts.Free(1)[0];
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(3), "agent", "enroll", "--state", site.State("web-1"), "--gateway", site.AgentUrl.ToString(),
            "--device", "web-1", "--token", token.Token, "--ca-pin", token.CaPin, "--poke-address", "127.0.0.1", "--poke-port", poke.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--sandbox-root", site.Root("web-1"));
        Assert.True(code == 0, stderr + stdout);
        using var other = new TcpListener(IPAddress.Loopback, poke);
        other.Start();

        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(3), "agent", "run", "--state", site.State("web-1"));

        Assert.True(code == 1, $"exit {code}:\n{stderr}{stdout}");
        var error = Assert.Single(ErrorLines(stderr));
        Assert.Contains($"port {poke} (poke listener, 127.0.0.1) is in use by another process; choose another with --poke-port", error, StringComparison.Ordinal);
        Assert.DoesNotMatch(StackFrame(), stderr + stdout);
    }
}
