namespace Rig.Protocol;

/// <summary>
/// Every timeout and limit of the gateway/agent exchange in one place (STYLE.md, after Halibut).
/// Each value says why it has that value and how it relates to the others. Both sides read the
/// same object; tests shrink it to make faults happen quickly.
/// </summary>
public sealed record RigLimits
{
    /// <summary>The values Rig ships with.</summary>
    public static RigLimits Default { get; } = new();

    // ---- Transport -------------------------------------------------------------------------

    /// <summary>Opening a connection to the gateway: the TCP connect and the TLS handshake (the handler's connect
    /// timeout covers both). Loopback and LAN connect in well under a second and a handshake takes milliseconds, but on a
    /// machine whose CPU is saturated (the demo's six agents and gateway starting cold beside a build) a first handshake
    /// has taken over 5 s; a timeout shorter than the handshake needs fails every retry the same way, so this is
    /// generous. A refused connection fails at once whatever it is; only a silent network (a firewall dropping SYNs) waits
    /// this long before the retry loop (backoff below) takes over.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>One request/response on the agent endpoint (exchange or enroll). Commands are not run inside a
    /// request, so a request is only I/O plus one database commit; 30 s is generous even for a loaded gateway.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A blob download may not stall longer than this between two reads (a peer sending one byte a
    /// minute is cut off, CHECKLIST 3). The whole download has no fixed deadline because size varies.</summary>
    public TimeSpan DownloadIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The agent keeps its outbound connection alive this long between requests; after a poke it
    /// reuses the connection until the queue answers "no command" (docs/PROTOCOL.md).</summary>
    public TimeSpan KeepAliveIdle { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Kestrel's header read deadline on the agent endpoint (slowloris guard, CHECKLIST 3).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest exchange or enroll body. A result carries at most a bounded output tail and an
    /// inventory of a few thousand items: 4 MiB leaves room and still bounds memory (CHECKLIST 2).</summary>
    public int MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Largest response body the agent accepts (a write-file command carries the whole file).</summary>
    public int MaxResponseBodyBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Largest configuration file a write-file command may carry (must fit in a response).</summary>
    public int MaxConfigFileBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>JSON nesting depth accepted on the wire; Rig's messages nest fewer than 10 levels.</summary>
    public int MaxJsonDepth { get; init; } = 32;

    /// <summary>Command output kept in a result (tail). Output beyond this is cut, never buffered whole.</summary>
    public int MaxOutputChars { get; init; } = 16 * 1024;

    // ---- Retry -----------------------------------------------------------------------------

    /// <summary>First retry delay after a failed exchange. Doubles each attempt up to <see cref="RetryMaxDelay"/>,
    /// with full jitter so 10,000 agents reconnecting after a gateway restart do not arrive together.</summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest delay between retries.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(15);

    // ---- Poke ------------------------------------------------------------------------------

    /// <summary>The gateway gives up a poke after this long; the agent's polling/check-in interval is the
    /// safety net, so a lost poke only delays work.</summary>
    public TimeSpan PokeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Pokes that arrive while a session runs are coalesced; between two sessions started by pokes the
    /// agent waits at least this long (pokes are rate-limited, CHECKLIST 4).</summary>
    public TimeSpan PokeMinInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Agents poked but not yet inquiring, at most, when the gateway pokes many at once (a converge, a
    /// wave): each poke starts a TLS handshake of ~1.5 ms of gateway CPU, so four per core keep the cores busy
    /// while a poked agent gets its first command within tens of milliseconds instead of queueing behind
    /// thousands of handshakes. Measured with 1,000 agents on 2 cores (docs/BENCHMARKS.md): a window of 32
    /// gave a p99 poke-to-first-command of 247 ms, 8 gave 71 ms for ~10% fewer commands per second.</summary>
    public int PokeWindow { get; init; } = Math.Clamp(4 * Environment.ProcessorCount, 8, 64);

    /// <summary>How often an agent in polling mode asks for work.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Every agent checks in this often even if never poked (heartbeat).</summary>
    public TimeSpan CheckInInterval { get; init; } = TimeSpan.FromMinutes(5);

    // ---- Queue -----------------------------------------------------------------------------

    /// <summary>Commands an agent takes in one answer. A queue of 36 commands is then 2 round trips instead of
    /// 36, each a group commit away (milliseconds on a real disk); each command is still journaled on its own.</summary>
    public int MaxCommandsPerExchange { get; init; } = 32;

    /// <summary>Package installs in one answer: installs take seconds, and a cancel takes effect at the agent's next
    /// exchange, so an answer holds only a few of them (light commands fill the rest).</summary>
    public int MaxInstallsPerAnswer { get; init; } = 4;

    /// <summary>Payload an answer carries beyond its first command (file contents add up): the gateway stops adding
    /// commands to an answer past this.</summary>
    public int MaxAnswerBytes { get; init; } = 1024 * 1024;

    /// <summary>A command is delivered at most this many times (an agent that crashes on it every time ends
    /// the queue as failed instead of looping forever, CHECKLIST 22).</summary>
    public int MaxCommandDeliveries { get; init; } = 5;

    // ---- Packages and archives (CHECKLIST 10-13) ------------------------------------------

    /// <summary>Most packages an install or remove command's <c>With</c> may list beside its own package. With is for
    /// dependency cycles (Debian's libc6 and libgcc-s1: two; the largest real cycles a dozen), so 64 is ample; the
    /// agent refuses a longer list before it downloads anything, and every package of the set is one more blob that
    /// must be fetched and verified before the package manager runs.</summary>
    public int MaxWithPackages { get; init; } = 64;

    /// <summary>Largest package the store accepts and the agent unpacks.</summary>
    public long MaxPackageBytes { get; init; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Largest total unpacked size of one archive.</summary>
    public long MaxUnpackedBytes { get; init; } = 8L * 1024 * 1024 * 1024;

    /// <summary>Unpacked/packed ratio above which an archive is a compression bomb. Text compresses ~10x,
    /// zero-filled files ~1000x; 200 allows real packages and refuses bombs early.</summary>
    public int MaxCompressionRatio { get; init; } = 200;

    /// <summary>Archives are checked for the ratio only once this many bytes are unpacked, so that tiny
    /// archives of empty files are not refused.</summary>
    public long CompressionRatioGraceBytes { get; init; } = 1024 * 1024;

    /// <summary>Entries in one archive.</summary>
    public int MaxArchiveEntries { get; init; } = 100_000;

    /// <summary>The manifest (rig.json) is small; anything bigger is not a manifest.</summary>
    public int MaxManifestBytes { get; init; } = 1024 * 1024;

    /// <summary>Path length inside an archive or on a device.</summary>
    public int MaxPathLength { get; init; } = 1024;

    // ---- Model files ---------------------------------------------------------------------

    /// <summary>Largest file of a model directory (a YAML file or a template). A template renders to a
    /// configuration file, which is capped at <see cref="MaxConfigFileBytes"/>; YAML describing even thousands of
    /// devices stays far below this.</summary>
    public int MaxModelFileBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Nesting depth of a model YAML file. The format nests about 8 levels (devices, a device, hardware,
    /// nics, a nic...); deeper input is refused before it is read, so it cannot exhaust the stack.</summary>
    public int MaxModelFileDepth { get; init; } = 64;

    // ---- Operator API ---------------------------------------------------------------------

    /// <summary>Largest model sent whole to the operator API (PUT /model, POST /plan, POST /apply): a model directory's
    /// files are capped at <see cref="MaxModelFileBytes"/> each, and real configuration templates are kilobytes, so a
    /// model of thousands of devices and their templates stays far below this; a body beyond it is refused (413)
    /// before it is buffered.</summary>
    public int MaxModelBodyBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Largest body of every other operator request (rollouts, converges, scripts, lifecycle): a few hundred
    /// bytes of JSON, a stored script with its commands a few KiB. Packages have their own limit
    /// (<see cref="MaxPackageBytes"/>).</summary>
    public int MaxOperatorRequestBytes { get; init; } = 1024 * 1024;

    // ---- Trust -----------------------------------------------------------------------------

    /// <summary>How long an enrollment token can be used (once).</summary>
    public TimeSpan EnrollmentTokenLifetime { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Lifetime of an agent's client certificate.</summary>
    public TimeSpan AgentCertificateLifetime { get; init; } = TimeSpan.FromDays(365);

    /// <summary>Lifetime of the gateway's own TLS certificate.</summary>
    public TimeSpan GatewayCertificateLifetime { get; init; } = TimeSpan.FromDays(825);

    /// <summary>Lifetime of the Rig certificate authority.</summary>
    public TimeSpan CaLifetime { get; init; } = TimeSpan.FromDays(3650);

    /// <summary>How long a gateway trusts its in-memory "this certificate is valid" answer before reading the
    /// certificate table again: the most a revocation made by another gateway on the same database waits.</summary>
    public TimeSpan CertificateCacheTtl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A device's last-seen time is written at most this often (check-ins and pokes do not each cost a
    /// write); the poke endpoint and agent version are written whenever they change.</summary>
    public TimeSpan LastSeenResolution { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A device that acknowledged a reboot but has not said "rebooted" within this time has its queue
    /// failed with <c>reboot-timeout</c> (a re-imaged device or a lost journal must not keep it busy forever).</summary>
    public TimeSpan RebootTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a rollout waits, by default, for a device's agent to ask for the queue the rollout made for it
    /// (<c>--device-timeout</c>) before it gives up on the device: its queue is failed before anything was sent and the
    /// device counts as a failure. 30 minutes is six check-ins (<see cref="CheckInInterval"/>): an agent that is up asks
    /// within seconds of its poke, or at its next check-in when the poke is lost, so a device still silent after
    /// that is down, unenrolled or unreachable and needs an operator, not more waiting.</summary>
    public TimeSpan RolloutDeviceTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>The rollout engine wakes when a queue of one of its devices ends and on every operator action; between
    /// those it looks again at this interval, for what no signal reports: a device timeout passing, a queue cancelled
    /// by another gateway. Well under <see cref="MinRolloutDeviceTimeout"/>, so a timeout is seen within half its length.</summary>
    public TimeSpan RolloutFallbackPoll { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often queues stuck in <c>rebooting</c> are looked for (<see cref="RebootTimeout"/>): a sweep is one
    /// indexed query, and a failure noticed up to this much late costs nothing against a 30-minute timeout.</summary>
    public TimeSpan RebootSweepInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the gateway writes the audit log's newest seq and hash to its own log (event 1802; also at
    /// start and stop), so a rewrite of the whole tail of the chain in the database shows against the log kept elsewhere.
    /// One indexed read of one row: cheap at any interval; five minutes bounds what an undetected rewrite can cover.</summary>
    public TimeSpan AuditHeadLogInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Devices whose queues one transaction writes (a converge, a rollout wave, a script run): a batch of 500
    /// full installs (~11 commands each, ~6,000 rows) commits in tens of milliseconds, short enough that agents'
    /// exchanges waiting for the write lock (SQLite) do not notice, and large enough that a fleet is a few commits.</summary>
    public int QueueWriteBatch { get; init; } = 500;

    /// <summary>Shortest <c>--device-timeout</c>: a poked agent on a loaded machine may need a few seconds to connect
    /// (TLS handshake, poke window), and a shorter wait would fail healthy devices.</summary>
    public TimeSpan MinRolloutDeviceTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest <c>--device-timeout</c>: a week covers a device shipped to a site and plugged in later; longer
    /// is almost always a typo (30d for 30m).</summary>
    public TimeSpan MaxRolloutDeviceTimeout { get; init; } = TimeSpan.FromDays(7);

    /// <summary>An enrolled agent not seen for longer than this is shown as "waiting for agent: not seen since T" in a
    /// rollout: two check-in intervals (plus the last-seen write resolution) without a word means it is not running or
    /// cannot reach the gateway.</summary>
    public TimeSpan AgentAbsentAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a starting gateway keeps trying to open its database while the database is not reachable or
    /// still recovering (PostgreSQL started at the same time, or restarting after a crash answers 57P03 for seconds),
    /// with the retry delays above, before it gives up and exits with the error.</summary>
    public TimeSpan DatabaseStartupWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long an agent keeps trying to reach a gateway that does not answer (connection refused, reset, timed
    /// out) before it says so in one line naming the gateway and what to check. Enrollment (<c>rig-agent enroll</c> and
    /// <c>install</c>, run once by an operator or an installer) then gives up with exit code 69 (<c>--wait-for-gateway</c>
    /// changes it); a running agent logs that line once per outage and keeps retrying, since it must be there when the
    /// gateway comes back. Five minutes: longer than a gateway's own start-up wait for its database
    /// (<see cref="DatabaseStartupWindow"/>, so a device and its gateway booting together enroll), and short enough that an
    /// installer with a wrong URL or a closed firewall hears about it while someone still watches.</summary>
    public TimeSpan GatewayUnreachableDeadline { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest enrollment request (a token and a CSR are a few KiB).</summary>
    public int MaxEnrollBodyBytes { get; init; } = 64 * 1024;

    /// <summary>Backoff delay for attempt <paramref name="attempt"/> (0-based): exponential with full jitter.</summary>
    public TimeSpan RetryDelay(int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var cap = Math.Min(RetryMaxDelay.TotalMilliseconds, RetryInitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20)));
        // Full jitter, but never less than a quarter of the initial delay so retries do not spin.
        var ms = Math.Max(RetryInitialDelay.TotalMilliseconds / 4, random.NextDouble() * cap);
        return TimeSpan.FromMilliseconds(ms);
    }
}
