using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Rig.Protocol;
using Rig.Server.Api;
using Rig.Server.Packages;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server;

/// <summary>A running gateway: the agent endpoint (mTLS) and the operator API, two Kestrel listeners
/// sharing one store, blob store and CA. Separate listeners (not one with host filtering), so no request
/// can reach the operator API through the agent port or the other way round.</summary>
internal sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _agentApp;
    private readonly WebApplication _apiApp;
    private readonly ILoggerFactory _loggerFactory;
    private readonly Gateway.RolloutEngine _rollouts;
    private Gateway.GatewayMetrics? _gauges;
    private Gateway.AuditHeadLog? _auditHead;

    private GatewayServer(ServerOptions options, RigStore store, Gateway.Gateway gateway, CertificateAuthority ca, PackageImporter importer,
        WebApplication agentApp, WebApplication apiApp, ILoggerFactory loggerFactory, Uri agentUrl, Uri apiUrl, Gateway.RolloutEngine rollouts)
    {
        _rollouts = rollouts;
        Options = options;
        Store = store;
        Gateway = gateway;
        Authority = ca;
        Importer = importer;
        _agentApp = agentApp;
        _apiApp = apiApp;
        _loggerFactory = loggerFactory;
        AgentUrl = agentUrl;
        ApiUrl = apiUrl;
    }

    /// <summary>Options in effect.</summary>
    public ServerOptions Options { get; }
    /// <summary>The database.</summary>
    public RigStore Store { get; }
    /// <summary>The gateway.</summary>
    public Gateway.Gateway Gateway { get; }
    /// <summary>The CA.</summary>
    public CertificateAuthority Authority { get; }
    /// <summary>Package import.</summary>
    public PackageImporter Importer { get; }
    /// <summary>Where agents connect (by DNS name).</summary>
    public Uri AgentUrl { get; }
    /// <summary>Where operators connect.</summary>
    public Uri ApiUrl { get; }

    /// <summary>Every operator API endpoint as (method, route pattern), for audits and the test that proves
    /// each one demands a token.</summary>
    public IReadOnlyList<(string Method, string Route)> OperatorEndpoints => Routes(OperatorRouteEndpoints);

    /// <summary>The operator listener's API endpoints (the web UI's pages under /ui are not part of the API) with their
    /// metadata, for the test that holds them against the OpenAPI document.</summary>
    internal IEnumerable<Microsoft.AspNetCore.Routing.RouteEndpoint> OperatorRouteEndpoints => AllRouteEndpoints.Where(e => !IsUi(e));

    /// <summary>Every route of the web UI (pages, forms, live streams, its static files).</summary>
    public IReadOnlyList<(string Method, string Route)> UiEndpoints => Routes(AllRouteEndpoints.Where(IsUi));

    private IEnumerable<Microsoft.AspNetCore.Routing.RouteEndpoint> AllRouteEndpoints =>
        _apiApp.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints.OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>();

    private static bool IsUi(Microsoft.AspNetCore.Routing.RouteEndpoint e) => (e.RoutePattern.RawText ?? "").StartsWith(Ui.UiEndpoints.Prefix, StringComparison.Ordinal);

    private static IReadOnlyList<(string Method, string Route)> Routes(IEnumerable<Microsoft.AspNetCore.Routing.RouteEndpoint> endpoints) =>
        [.. endpoints.SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, e.RoutePattern.RawText ?? "")))];

    /// <summary>How long the first operator's token lives: long enough to set up teams and personal tokens
    /// (docs/SECURITY.md), not forever.</summary>
    public static readonly TimeSpan FirstTokenLifetime = TimeSpan.FromDays(90);

    /// <summary>Prepare a data directory: CA, TLS certificate, database, first operator token (returned, shown once).</summary>
    public static async Task<string> InitializeAsync(ServerOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(options.DataDirectory);
        else
            Directory.CreateDirectory(options.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // holds the CA key
        if (File.Exists(ServerOptions.ConfigPath(options.DataDirectory)))
            throw new InvalidOperationException($"'{options.DataDirectory}' is already initialised (server.json exists); use it with `rig server run`, or choose another directory.");
        using var ca = CertificateAuthority.LoadOrCreate(Path.Combine(options.DataDirectory, "ca"), options.Limits, TimeProvider.System);
        using var _ = ca.LoadOrIssueServerCertificate(Path.Combine(options.DataDirectory, "tls"), options.DnsNames, options.ParsedIpAddresses());
        SecretsKeyFile.Load(options.DataDirectory, create: true); // secrets.key (0600), unless the key comes from the environment
        await using var store = await RigStore.OpenAsync(options.EffectiveConnectionString, ct: ct).ConfigureAwait(false);
        var token = Tokens.Create("rigop_");
        await store.AddFirstOperatorAsync(Tokens.Hash(token), "admin", DateTimeOffset.UtcNow + FirstTokenLifetime, ct).ConfigureAwait(false);
        options.Save();
        return token;
    }

    /// <summary>Start a gateway on an initialised (or, for tests, any) data directory.</summary>
    public static async Task<GatewayServer> StartAsync(ServerOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = options.Limits;
        var clock = TimeProvider.System;
        Directory.CreateDirectory(options.DataDirectory);
        var level = Enum.TryParse<LogLevel>(options.LogLevel, true, out var parsed) ? parsed : LogLevel.Warning;
        var traces = options.OtlpEndpoint is { } otlp ? ServerOptions.OtlpTracesUri(otlp) : null; // refused before anything starts
        var loggerFactory = CreateLoggerFactory(level, options.LogFormat);

        var startup = loggerFactory.CreateLogger("Rig.Server.Startup");
        var secrets = SecretsKeyFile.Load(options.DataDirectory, create: true); // refused before anything starts: missing, exposed, malformed
        var store = await WhileDatabaseStartsAsync(() => RigStore.OpenAsync(options.EffectiveConnectionString, clock, ct), limits, startup, ct).ConfigureAwait(false);
        store.Secrets = secrets;
        try
        {
            await WhileDatabaseStartsAsync(() => store.OpenAllSecretsAsync(ct), limits, startup, ct).ConfigureAwait(false); // a wrong key fails here
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var ca = CertificateAuthority.LoadOrCreate(Path.Combine(options.DataDirectory, "ca"), limits, clock);
        var serverCertificate = ca.LoadOrIssueServerCertificate(Path.Combine(options.DataDirectory, "tls"), options.DnsNames, options.ParsedIpAddresses());
        var blobs = new BlobStore(Path.Combine(options.DataDirectory, "blobs"));
        var gateway = new Gateway.Gateway(store, blobs, ca, limits, loggerFactory.CreateLogger<Gateway.Gateway>(), clock);
        var importer = new PackageImporter(blobs, store, limits);
        // Native packages imported before the catalog kept their relations get them from their files, once.
        var (filled, unreadable) = await WhileDatabaseStartsAsync(() => importer.FillMissingRelationsAsync(ct), limits, startup, ct).ConfigureAwait(false);
        if (filled > 0)
            ServerLog.PackageRelationsFilled(startup, filled);
        foreach (var failure in unreadable)
            ServerLog.PackageRelationsUnreadable(startup, failure);

        var agentApp = BuildAgentApp(options, gateway, ca, serverCertificate, loggerFactory);
        WebApplication? apiApp = null;
        try
        {
            await StartListenerAsync(agentApp, ListenerBindException.AgentEndpoint, options.AgentListenAddress, options.AgentPort, ct).ConfigureAwait(false);
        }
        catch
        {
            await agentApp.DisposeAsync().ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            ca.Dispose();
            loggerFactory.Dispose();
            throw;
        }
        var agentPort = BoundPort(agentApp);
        var agentUrl = new Uri($"https://{options.DnsNames.FirstOrDefault() ?? "localhost"}:{agentPort}");
        gateway.AgentUrl = agentUrl;

        var gauges = new Gateway.GatewayMetrics(store, limits, clock, loggerFactory.CreateLogger<Gateway.GatewayMetrics>());
        try
        {
            apiApp = BuildApiApp(options, gateway, importer, serverCertificate, loggerFactory, agentUrl.ToString(), gauges, traces);
            await StartListenerAsync(apiApp, ListenerBindException.OperatorApi, options.ApiListenAddress, options.ApiPort, ct).ConfigureAwait(false);
        }
        catch
        {
            if (apiApp is not null)
                await apiApp.DisposeAsync().ConfigureAwait(false);
            gauges.Dispose();
            await agentApp.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await agentApp.DisposeAsync().ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            ca.Dispose();
            loggerFactory.Dispose();
            throw;
        }
        var apiHost = IPAddress.Parse(options.ApiListenAddress) is var ip && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)) ? "localhost" : options.ApiListenAddress;
        var apiUrl = new Uri($"https://{(apiHost.Contains(':', StringComparison.Ordinal) ? $"[{apiHost}]" : apiHost)}:{BoundPort(apiApp)}");
        gateway.Pokes = new Gateway.PokeScheduler(gateway);
        // Pokes in flight died with the previous process. The database may restart right now too (a crash of both).
        await WhileDatabaseStartsAsync(() => gateway.PokeUnfinishedAsync(ct), limits, startup, ct).ConfigureAwait(false);
        var rollouts = new Gateway.RolloutEngine(gateway, loggerFactory.CreateLogger<Gateway.RolloutEngine>());
        rollouts.Start(); // persisted rollouts continue where they were
        var auditHead = new Gateway.AuditHeadLog(store, limits.AuditHeadLogInterval, clock, loggerFactory.CreateLogger(AuditCategory));
        auditHead.Start();
        return new GatewayServer(options, store, gateway, ca, importer, agentApp, apiApp, loggerFactory, agentUrl, apiUrl, rollouts) { _gauges = gauges, _auditHead = auditHead };
    }

    // The host logs a listener that cannot start with its whole stack trace; StartAsync reports it instead, in one line
    // (ListenerBindException), and anything else that stops the start reaches the caller as an exception.
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    /// <summary>The category of the audit log's periodic head (event 1802).</summary>
    internal const string AuditCategory = "Rig.Server.Audit";

    /// <summary>The audit head is written at Information but kept at the default level (Warning) too: it is worth
    /// nothing unless it is in the log when it is needed. Only <c>--log-level error</c> or <c>none</c> leave it out.</summary>
    private static LogLevel AuditLevel(LogLevel level) => level <= LogLevel.Warning ? LogLevel.Information : level;

    /// <summary>The console logger: one line of text per event, or with <c>json</c> one JSON object per line (UTC
    /// timestamps, event id, level, category, message and each field of the message under <c>State</c>).</summary>

    public static ILoggerFactory CreateLoggerFactory(LogLevel level, string format) => format switch
    {
        "json" => LoggerFactory.Create(b => b.SetMinimumLevel(level).AddJsonConsole(o =>
        {
            o.IncludeScopes = false;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        }).AddFilter(HostCategory, LogLevel.Critical).AddFilter(AuditCategory, AuditLevel(level))),
        "text" => LoggerFactory.Create(b => b.SetMinimumLevel(level).AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }).AddFilter(HostCategory, LogLevel.Critical).AddFilter(AuditCategory, AuditLevel(level))),
        _ => throw new ArgumentException($"The log format '{format}' is unknown: use {string.Join(" or ", ServerOptions.LogFormats)}.", nameof(format)),
    };

    /// <summary>Run a start-up step that needs the database, waiting for the database while it cannot be reached or is
    /// still recovering (a gateway and its PostgreSQL started together, or PostgreSQL restarting after a crash): a
    /// service manager should not have to restart the gateway for that. Errors that waiting cannot fix (a wrong
    /// password, a bad connection string, SQL errors) end the start at once; so does <see cref="RigLimits.DatabaseStartupWindow"/>.</summary>
    private static async Task<T> WhileDatabaseStartsAsync<T>(Func<Task<T>> step, RigLimits limits, ILogger logger, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await step().ConfigureAwait(false);
            }
            catch (Exception e) when (RigStore.IsTransient(e) && started.Elapsed < limits.DatabaseStartupWindow && !ct.IsCancellationRequested)
            {
                var delay = limits.RetryDelay(attempt, Random.Shared);
                ServerLog.DatabaseNotReady(logger, e.Message, attempt + 1, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
        }
    }

    private static WebApplication BuildAgentApp(ServerOptions options, Gateway.Gateway gateway, CertificateAuthority ca, X509Certificate2 certificate, ILoggerFactory loggerFactory)
    {
        var limits = options.Limits;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = options.DataDirectory, ApplicationName = "rig-gateway" });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<IHostLifetime, OwnerStopsLifetime>();
        builder.Services.AddRouting();
        var chainPolicy = ca.ClientChainPolicy();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
            k.Limits.KeepAliveTimeout = limits.KeepAliveIdle + TimeSpan.FromSeconds(5);
            k.Listen(IPAddress.Parse(options.AgentListenAddress), options.AgentPort, listen =>
            {
                listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    https.CheckCertificateRevocation = false;
                    // The chain is built once, by the handshake, with Rig's CA as the only root (STYLE/DESIGN: no second chain build).
                    https.OnAuthenticate = (_, ssl) => ssl.CertificateChainPolicy = chainPolicy;
                    https.ClientCertificateValidation = (_, _, errors) => errors == SslPolicyErrors.None;
                    https.HandshakeTimeout = limits.RequestHeadersTimeout;
                });
                // Agent sessions: connections open once their TLS handshake succeeded (rig.gateway.agent.sessions).
                listen.Use(next => async connection =>
                {
                    Rig.Server.Gateway.GatewayTelemetry.AgentSession(+1);
                    try
                    {
                        await next(connection).ConfigureAwait(false);
                    }
                    finally
                    {
                        Rig.Server.Gateway.GatewayTelemetry.AgentSession(-1);
                    }
                });
            });
        });
        var app = builder.Build();
        Rig.Server.Gateway.AgentEndpoints.Map(app, gateway);
        return app;
    }

    private static WebApplication BuildApiApp(ServerOptions options, Gateway.Gateway gateway, PackageImporter importer, X509Certificate2 certificate, ILoggerFactory loggerFactory, string agentUrl,
        Gateway.GatewayMetrics gauges, Uri? traces)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = options.DataDirectory, ApplicationName = "rig-api" });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<IHostLifetime, OwnerStopsLifetime>();
        // Metrics (the Rig.Gateway meter, read on scrape by /metrics) always; traces only when an OTLP endpoint is set, so
        // without one no activity is even created (the ActivitySource has no listener).
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("rig-gateway", serviceVersion: typeof(GatewayServer).Assembly.GetName().Version?.ToString()))
            .WithMetrics(m => m.AddMeter(Rig.Server.Gateway.GatewayTelemetry.Name).AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        if (traces is not null)
        {
            // The HTTP requests of both listeners are the spans the gateway's own (exchange, operator action) hang under.
            telemetry.WithTracing(t => t.AddSource(Rig.Server.Gateway.GatewayTelemetry.Name).AddAspNetCoreInstrumentation().AddOtlpExporter(o =>
            {
                o.Protocol = OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = traces;
            }));
        }
        builder.Services.AddRouting();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.AllowDuplicateProperties = false);
        // A body or query value an endpoint cannot read is thrown to the operator middleware, which answers it in the
        // one error shape (otherwise minimal APIs answer an empty 400).
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi("v1", OperatorApi.DescribeDocument);
        builder.Services.AddRazorComponents(); // the web UI's pages: static server rendering only, no circuits
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.Limits.MaxOperatorRequestBytes; // raised per endpoint (OperatorApi.BodyLimit)
            k.Listen(IPAddress.Parse(options.ApiListenAddress), options.ApiPort, listen => listen.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
            }));
        });
        var app = builder.Build();
        var fetcher = new PackageFetcher(gateway.Store, importer, Path.Combine(options.DataDirectory, "fetch"), options.FetchMirror,
            options.FetchSecurityMirror, loggerFactory.CreateLogger<PackageFetcher>(), TimeProvider.System);
        var services = new Services.OperatorServices(gateway, importer, fetcher, new MetricsToken(options.DataDirectory), agentUrl);
        MetricsEndpoint.Map(app, services.Trust, gauges);
        Ui.UiEndpoints.Map(app, services, new Ui.UiSessions(gateway.Store, services.Trust, gateway.Clock));
        OperatorApi.Map(app, services);
        OperatorApi.MapPackageFetch(app, services);
        app.MapOpenApi("/openapi/{documentName}.json");
        OperatorApi.MapReference(app);
        return app;
    }

    /// <summary>Start a listener; a port another process holds (or that this user may not use, or an address this host
    /// does not have) becomes a <see cref="ListenerBindException"/> naming the listener, not Kestrel's stack trace.</summary>
    private static async Task StartListenerAsync(WebApplication app, string listener, string address, int port, CancellationToken ct)
    {
        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e) when (ListenerBindException.Reason(e) is { } reason)
        {
            throw new ListenerBindException(listener, address, port, reason, e);
        }
    }

    private static int BoundPort(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.First().Replace("0.0.0.0", "localhost", StringComparison.Ordinal).Replace("[::]", "localhost", StringComparison.Ordinal)).Port;
    }

    /// <summary>Stop both listeners and close the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await _rollouts.DisposeAsync().ConfigureAwait(false);
        if (Gateway.Pokes is { } pokes)
            await pokes.DisposeAsync().ConfigureAwait(false);
        await _apiApp.StopAsync().ConfigureAwait(false);
        await _agentApp.StopAsync().ConfigureAwait(false);
        await _apiApp.DisposeAsync().ConfigureAwait(false);
        await _agentApp.DisposeAsync().ConfigureAwait(false);
        if (_auditHead is not null)
            await _auditHead.DisposeAsync().ConfigureAwait(false); // the last head, once nothing more is appended
        await Store.DisposeAsync().ConfigureAwait(false);
        _gauges?.Dispose();
        Authority.Dispose();
        _loggerFactory.Dispose();
    }
}

/// <summary>A gateway listener could not bind its address and port: <see cref="Problem"/> says why (another process holds
/// the port, the port needs privileges, the host has no such address). The CLI turns it into one line naming the option
/// to change.</summary>
internal sealed class ListenerBindException(string listener, string address, int port, ListenerProblem problem, Exception inner)
    : Exception($"{listener} cannot listen on {address}:{port}: {problem switch
    {
        ListenerProblem.InUse => "the port is in use by another process",
        ListenerProblem.Forbidden => "this user may not use the port",
        _ => "this host has no such address",
    }}", inner)
{
    /// <summary>The agent endpoint's name in messages.</summary>
    public const string AgentEndpoint = "agent endpoint";

    /// <summary>The operator API's name in messages.</summary>
    public const string OperatorApi = "operator API";

    /// <summary><see cref="AgentEndpoint"/> or <see cref="OperatorApi"/>.</summary>
    public string Listener { get; } = listener;

    /// <summary>The listen address.</summary>
    public string Address { get; } = address;

    /// <summary>The port.</summary>
    public int Port { get; } = port;

    /// <summary>Why it could not listen.</summary>
    public ListenerProblem Problem { get; } = problem;

    /// <summary>Why Kestrel could not bind, or null when the failure is something else.</summary>
    public static ListenerProblem? Reason(Exception failure)
    {
        for (var e = failure; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case Microsoft.AspNetCore.Connections.AddressInUseException:
                    return ListenerProblem.InUse;
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse }:
                    return ListenerProblem.InUse;
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AccessDenied }:
                    return ListenerProblem.Forbidden;
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressNotAvailable }:
                    return ListenerProblem.NoSuchAddress;
            }
        }
        return null;
    }
}

/// <summary>Why a listener could not bind.</summary>
internal enum ListenerProblem
{
    /// <summary>Another process holds the port.</summary>
    InUse,
    /// <summary>A port below 1024 without the privilege.</summary>
    Forbidden,
    /// <summary>The listen address is not one of this host's.</summary>
    NoSuchAddress,
}

/// <summary>The gateway's web hosts stop when their owner says so (<c>rig server run</c>, <c>rig demo</c>, a test), never
/// on a signal of their own: the host's default console lifetime took SIGINT and SIGTERM for itself, stopping the
/// listeners while the process that embeds them went on waiting (a `rig demo --ui` then never ended and left its
/// agents running).</summary>
internal sealed class OwnerStopsLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
