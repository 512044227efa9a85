namespace Rig.Protocol;

/// <summary>Wire constants of the gateway/agent protocol (docs/PROTOCOL.md).</summary>
public static class ProtocolInfo
{
    /// <summary>Protocol version spoken by this build. A new version sits beside the old one.</summary>
    public const int Version = 1;

    /// <summary>Agent asks for its next command, reporting the previous result (mTLS).</summary>
    public const string ExchangePath = "/agent/v1/exchange";

    /// <summary>Agent enrolls with a one-time token (server-authenticated TLS, no client certificate yet).</summary>
    public const string EnrollPath = "/agent/v1/enroll";

    /// <summary>The CA certificate, fetched once before enrollment and checked against the pin.</summary>
    public const string CaPath = "/agent/v1/ca";

    /// <summary>Content-addressed blobs: <c>/files/sha256/{digest}</c> (mTLS, range requests).</summary>
    public const string FilesPrefix = "/files/sha256/";

    /// <summary>The whole poke: these bytes on a TCP connection to the agent's poke port. It carries no command
    /// and nothing in it is trusted; it only makes the agent inquire at its own gateway.</summary>
    public static ReadOnlySpan<byte> PokeBytes => "RIG-POKE/1\n"u8;

    /// <summary>Exit code of a sandboxed agent that performed a reboot: its supervisor restarts it.</summary>
    public const int RebootExitCode = 75;

    /// <summary>Exit code of an agent that installed a new version of itself and reported it: its supervisor
    /// (systemd's <c>Restart=always</c>, a test harness) starts it again, and the new binary runs.</summary>
    public const int RestartExitCode = 76;

    /// <summary>Content type of every JSON message.</summary>
    public const string JsonContentType = "application/json";
}
