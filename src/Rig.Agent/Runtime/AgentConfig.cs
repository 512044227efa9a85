using System.Text.Json;
using System.Text.Json.Serialization;
using Rig.Protocol.Messages;

namespace Rig.Agent.Runtime;

/// <summary>The agent's configuration, <c>agent.json</c> in its state directory, written at enrollment. Members with a
/// default use <c>set</c>: the JSON source generator passes null/0 for a missing init-only member, so an agent.json
/// written before a member existed would lose its default.</summary>
internal sealed record AgentConfig
{
    // Members with defaults are `set`, not `init`: for init-only members the JSON source generator passes
    // default(T) when the member is absent, which would overwrite the default (absent must mean the default).

    /// <summary>The gateway's agent endpoint, by DNS name (e.g. <c>https://gateway.example:7443</c>).</summary>
    public required string GatewayUrl { get; init; }

    /// <summary>The device this agent is (the certificate names it).</summary>
    public required string Device { get; init; }

    /// <summary>OS plug-in: <c>sandbox</c> (everything under <see cref="SandboxRoot"/>) or <c>linux</c> (a real
    /// device: dpkg, rpm, systemd, networkd/ifupdown, rooted at <see cref="Root"/>).</summary>
    public string Platform { get; set; } = "sandbox";

    /// <summary>Root directory of the sandbox platform.</summary>
    public string? SandboxRoot { get; init; }

    /// <summary>Device root of the linux platform: <c>/</c> (the running system, the default) or a directory
    /// holding a system prepared offline (an image, a chroot).</summary>
    public string Root { get; set; } = "/";

    /// <summary>Apply network changes to the running network (iproute2) even when <see cref="Root"/> is not <c>/</c>:
    /// for appliances and tests whose agent prepares a root offline but owns the network (namespace) it runs in.
    /// On <c>/</c> changes are always applied live.</summary>
    public bool NetworkLive { get; init; }

    /// <summary>Where the poke listener binds (<c>0.0.0.0</c>); ignored in polling mode.</summary>
    public string PokeAddress { get; set; } = "0.0.0.0";

    /// <summary>Poke listener port; 0 picks a free one (it is reported to the gateway at every check-in).</summary>
    public int PokePort { get; set; } = 7445;

    /// <summary>Host the gateway should poke, when the gateway cannot use the connection's source address (NAT).</summary>
    public string? PokeHost { get; init; }

    /// <summary>Polling mode: no listener, ask every <see cref="PollSeconds"/> (for agents the gateway cannot reach).</summary>
    public bool Poll { get; init; }

    /// <summary>Polling interval in seconds (0: the protocol default).</summary>
    public int PollSeconds { get; init; }

    /// <summary>Most commands to take in one exchange (1-256; 0: the protocol default, 32). Smaller batches
    /// let a cancelled queue stop sooner on a slow device; larger ones save round trips.</summary>
    public int Batch { get; init; }

    /// <summary>Directories configuration files may be written under (CHECKLIST 16).</summary>
    public IReadOnlyList<string> AllowedRoots { get; set; } = ["/etc", "/opt", "/srv", "/var", "/usr/local", "/home"];
}

/// <summary>Paths inside the agent's state directory.</summary>
internal sealed class AgentPaths(string stateDirectory)
{
    /// <summary>The state directory.</summary>
    public string Root { get; } = Path.GetFullPath(stateDirectory);
    /// <summary>agent.json</summary>
    public string Config => Path.Combine(Root, "agent.json");
    /// <summary>The agent's private key (PEM, 0600).</summary>
    public string Key => Path.Combine(Root, "agent.key");
    /// <summary>The agent's client certificate.</summary>
    public string Certificate => Path.Combine(Root, "agent.crt");
    /// <summary>The pinned CA certificate.</summary>
    public string Ca => Path.Combine(Root, "ca.crt");
    /// <summary>The journal of finished commands.</summary>
    public string Journal => Path.Combine(Root, "journal.jsonl");
    /// <summary>Verified blobs by digest.</summary>
    public string Cache => Path.Combine(Root, "cache");
    /// <summary>Downloads in progress.</summary>
    public string Downloads => Path.Combine(Root, "downloads");
    /// <summary>True when enrolled.</summary>
    public bool IsEnrolled => File.Exists(Config) && File.Exists(Key) && File.Exists(Certificate) && File.Exists(Ca);
}

/// <summary>One journal line. Events: <c>begin</c> (about to run), <c>end</c> (finished, with result),
/// <c>reported</c> (with <c>ids</c>: the gateway answered a request carrying these results, so it has them),
/// <c>rebooted</c> (the device came back after a reboot command), <c>acknowledged</c> (the gateway recorded it),
/// <c>reboot-started</c> (with <c>boot</c>: the kernel's boot id then, where the device has one), <c>tracks-reports</c>
/// (every result finished before this line counts as reported: the first line of a journal written by an agent that
/// marks reported results, and the line an older journal gets when such an agent first opens it).</summary>
internal sealed record JournalEntry(string Id, string Event, long At, string? Kind = null, CommandResult? Result = null, string? Boot = null, IReadOnlyList<string>? Ids = null);

/// <summary>Source-generated JSON for the agent's own files (Native AOT).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false,
    WriteIndented = false)]
[JsonSerializable(typeof(AgentConfig))]
[JsonSerializable(typeof(JournalEntry))]
[JsonSerializable(typeof(Platform.PackageDatabase.State))]
[JsonSerializable(typeof(Platform.Linux.Network.PendingNetworkChange))]
internal sealed partial class AgentJson : JsonSerializerContext
{
    /// <summary>Load agent.json with a clear error.</summary>
    public static AgentConfig LoadConfig(AgentPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (!File.Exists(paths.Config))
            throw new AgentException($"'{paths.Config}' does not exist: this agent is not enrolled. Run `rig agent enroll` first.");
        try
        {
            var config = JsonSerializer.Deserialize(File.ReadAllText(paths.Config), Default.AgentConfig) ?? throw new JsonException("empty");
            if (config.Platform is not ("sandbox" or "linux"))
                throw new JsonException($"platform '{config.Platform}' is unknown (use sandbox or linux)");
            if (!Path.IsPathFullyQualified(config.Root))
                throw new JsonException($"root '{config.Root}' is not an absolute path");
            if (config.Batch is < 0 or > 256)
                throw new JsonException($"batch {config.Batch} is outside 0-256 (0 means the default)");
            return config;
        }
        catch (JsonException e)
        {
            throw new AgentException($"'{paths.Config}' is not valid: {e.Message}. Fix it or enroll again.");
        }
    }
}

/// <summary>An error the agent reports to its operator and stops on (bad configuration, a refused enrollment): not retry-safe.</summary>
internal sealed class AgentException(string message) : Rig.Protocol.Errors.RigException(ErrorCode, message, retrySafe: false)
{
    /// <summary>The code of every <see cref="AgentException"/> (the agent's JSON log names it).</summary>
    public const string ErrorCode = AgentEvents.AgentError;
}
