using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Rig.Protocol;

namespace Rig.Server;

/// <summary>How a gateway runs: data directory, database, listeners. Saved as <c>server.json</c> in the data
/// directory by <c>rig server init</c>.</summary>
internal sealed record ServerOptions
{
    /// <summary>Data directory: database (SQLite default), blobs, CA, TLS certificate.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Database connection string; empty means SQLite at <c>{data}/rig.db</c>.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>Address the agent endpoint (mTLS) listens on.</summary>
    public string AgentListenAddress { get; init; } = "0.0.0.0";

    /// <summary>Agent endpoint port (0 = any free port, for tests).</summary>
    public int AgentPort { get; init; } = 7443;

    /// <summary>Address of the operator API; loopback unless the operator says otherwise.</summary>
    public string ApiListenAddress { get; init; } = "127.0.0.1";

    /// <summary>Operator API port (0 = any free port).</summary>
    public int ApiPort { get; init; } = 7444;

    /// <summary>DNS names the gateway's certificate carries; agents connect by one of them (TLS resumption needs SNI).</summary>
    public IReadOnlyList<string> DnsNames { get; init; } = ["localhost"];

    /// <summary>IP addresses the gateway's certificate carries.</summary>
    public IReadOnlyList<string> IpAddresses { get; init; } = ["127.0.0.1", "::1"];

    /// <summary>Log level of the console logger (Warning by default; Information shows every queue and enrollment).</summary>
    public string LogLevel { get; init; } = "Warning";

    /// <summary>How log lines are written on standard output: <c>text</c> (one line each, for people) or <c>json</c> (one
    /// JSON object per line, for log collectors).</summary>
    public string LogFormat { get; init; } = "text";

    /// <summary>Where traces go (OTLP over HTTP/protobuf, e.g. <c>http://collector:4318</c>); null: no traces are exported and
    /// nothing is collected for them.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>The log formats <see cref="LogFormat"/> accepts.</summary>
    public static readonly IReadOnlyList<string> LogFormats = ["text", "json"];

    /// <summary>The OTLP/HTTP traces URL for <paramref name="endpoint"/>: a base URL gets <c>/v1/traces</c> (as
    /// OTEL_EXPORTER_OTLP_ENDPOINT does), a URL with a path is used as it is.</summary>
    public static Uri OtlpTracesUri(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo))
            throw new ArgumentException($"The OTLP endpoint '{endpoint}' is not an http(s) URL without credentials; give the collector's OTLP/HTTP address, e.g. http://collector:4318.", nameof(endpoint));
        return uri.AbsolutePath is "" or "/" ? new Uri(uri, "/v1/traces") : uri;
    }

    /// <summary>The Debian archive `rig package fetch` uses unless the request names one; null: the host's apt sources,
    /// else http://deb.debian.org/debian.</summary>
    public string? FetchMirror { get; init; }

    /// <summary>The Debian security archive for `rig package fetch`; null: the host's apt sources, else
    /// http://deb.debian.org/debian-security.</summary>
    public string? FetchSecurityMirror { get; init; }

    /// <summary>Timeouts and limits (not saved; defaults unless a test changes them).</summary>
    [JsonIgnore]
    public RigLimits Limits { get; init; } = RigLimits.Default;

    /// <summary>The connection string in effect.</summary>
    public string EffectiveConnectionString => string.IsNullOrWhiteSpace(ConnectionString) ? $"Data Source={Path.Combine(DataDirectory, "rig.db")}" : ConnectionString;

    /// <summary>Path of server.json in a data directory.</summary>
    public static string ConfigPath(string dataDirectory) => Path.Combine(dataDirectory, "server.json");

    /// <summary>Load server.json.</summary>
    public static ServerOptions Load(string dataDirectory)
    {
        var path = ConfigPath(dataDirectory);
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{path}' does not exist: this is not an initialised gateway data directory. Run `rig server init --data {dataDirectory}` first.", path);
        try
        {
            var options = JsonSerializer.Deserialize<ServerOptions>(File.ReadAllText(path), FileOptions) ?? throw new JsonException("empty");
            return options with { DataDirectory = Path.GetFullPath(dataDirectory) };
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid: {e.Message}. Fix it or run `rig server init` in a new directory.", e);
        }
    }

    /// <summary>Save server.json.</summary>
    public void Save() => Trust.WritePrivateFile(ConfigPath(DataDirectory), JsonSerializer.Serialize(this, FileOptions)); // may hold a database password

    /// <summary>The IP addresses parsed.</summary>
    public IReadOnlyList<IPAddress> ParsedIpAddresses() => [.. IpAddresses.Select(IPAddress.Parse)];

    private static readonly JsonSerializerOptions FileOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };
}
