using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using Rig.Supervision;

namespace Rig.Testing;

/// <summary>A real, throwaway PostgreSQL server (tests and benchmarks share this file): initdb into a temp
/// directory, started on a free loopback port, fresh databases on demand, everything removed on dispose. Tests
/// run it with fsync off; benchmarks of durable work run it <see cref="Durable"/>. Runs the server binaries as
/// the <c>postgres</c> user when run as root (PostgreSQL refuses root), else as the current user. Missing
/// binaries are an error (never a skip): a green run always includes PostgreSQL.</summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    /// <summary>A cluster; <paramref name="durable"/> keeps fsync and synchronous commit on (benchmarks).</summary>
    public PostgresCluster(bool durable = false) => Durable = durable;

    /// <summary>True when commits are flushed to disk (fsync and synchronous_commit on).</summary>
    public bool Durable { get; }

    /// <summary>The superuser initdb creates (trust authentication, loopback only).</summary>
    public const string User = "rig";

    private const string ServiceAccount = "postgres";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    private string? _root;
    private string? _binDirectory;
    private bool _running;
    private NpgsqlDataSource? _admin;
    private int _serverVersionNumber;

    /// <summary>The loopback TCP port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The server's version, as <c>server_version</c> says.</summary>
    public string ServerVersion { get; private set; } = "";

    private string DataDirectory => Path.Combine(_root!, "data");
    private string SocketDirectory => Path.Combine(_root!, "sock");
    private string LogFile => Path.Combine(_root!, "server.log");

    /// <summary>True when the server processes run as the <c>postgres</c> user through <c>setpriv</c>.</summary>
    private static bool RunAsServiceAccount => Environment.IsPrivilegedProcess;

    /// <summary>initdb and start.</summary>
    public async Task StartClusterAsync()
    {
        try
        {
            _binDirectory = await FindBinariesAsync() ?? throw new InvalidOperationException(MissingBinariesMessage());
            await CreateDirectoriesAsync();
            await RunServerToolAsync("initdb", ["-D", DataDirectory, "-A", "trust", "-U", User, "-E", "UTF8", "--locale=C", "--no-sync"]);
            await StartAsync();
            _admin = NpgsqlDataSource.Create(ConnectionString("postgres") + ";Pooling=false");
            await using var command = _admin.CreateCommand("SELECT current_setting('server_version'), current_setting('server_version_num')::int");
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            ServerVersion = reader.GetString(0);
            _serverVersionNumber = reader.GetInt32(1);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Create a fresh, empty database and return its name.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "t_" + Guid.NewGuid().ToString("n");
        // PostgreSQL 15 copies the template through the WAL by default (~100 ms); a file copy is ~20 ms with fsync off.
        await ExecuteAdminAsync($"CREATE DATABASE \"{name}\"" + (_serverVersionNumber >= 150000 ? " STRATEGY FILE_COPY" : ""));
        return name;
    }

    /// <summary>Drop a database made by <see cref="CreateDatabaseAsync"/>, closing any connection still open on it.</summary>
    public Task DropDatabaseAsync(string name) => ExecuteAdminAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");

    /// <summary>Npgsql connection string for <paramref name="database"/> (over TCP, like a gateway would connect).</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username={User};Database={database};Timeout=15;Command Timeout=30";

    /// <summary>Crash and restart the server (<c>pg_ctl restart -m immediate</c>, as a power cut would): every
    /// connection is cut, no shutdown checkpoint, crash recovery on start, the same port and options.</summary>
    public Task RestartImmediateAsync() =>
        RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-m", "immediate", "-w", "-t", "60", "restart"]);

    /// <summary>Stop the server at once (<c>pg_ctl stop -m immediate</c>): nothing listens on its port until
    /// <see cref="StartAgainAsync"/>.</summary>
    public Task StopImmediateAsync() =>
        RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "60", "stop"]);

    /// <summary>Start a server stopped by <see cref="StopImmediateAsync"/> (crash recovery, same port and options).</summary>
    public async Task StartAgainAsync()
    {
        var durability = Durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        var options = $"-p {Port} -k {SocketDirectory} -c listen_addresses=127.0.0.1 -c max_connections=300{durability}";
        var (exitCode, stdout, stderr) = await RunServerToolRawAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-o", options, "-w", "-t", "60", "start"]);
        if (exitCode != 0)
            throw new InvalidOperationException($"pg_ctl start on port {Port} exited with {exitCode}\n{stdout}{stderr}\nserver log:\n{ReadLog()}");
    }

    private async Task ExecuteAdminAsync(string sql)
    {
        if (_admin is null)
            throw new InvalidOperationException("The throwaway PostgreSQL server is not running.");
        await using var command = _admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static string MissingBinariesMessage()
    {
        const string what = "A real PostgreSQL server is needed but no initdb/pg_ctl was found " +
            "(looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin).";
        return Environment.GetEnvironmentVariable("CI") is { Length: > 0 }
            ? what + " CI is set: the CI image must provide PostgreSQL (apt-get install postgresql); PostgreSQL runs are never skipped."
            : what + " Install it with `apt-get install postgresql` (or put its bin directory's pg_config on PATH) and run the tests again.";
    }

    /// <summary><c>pg_config --bindir</c> when it holds initdb and pg_ctl, else the highest
    /// <c>/usr/lib/postgresql/N/bin</c> that does; null when neither exists.</summary>
    private static async Task<string?> FindBinariesAsync()
    {
        try
        {
            var (exitCode, stdout, _) = await RunAsync("pg_config", ["--bindir"], Environment.CurrentDirectory, asServiceAccount: false);
            if (exitCode == 0 && HasServerTools(stdout.Trim()))
                return stdout.Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // pg_config is not installed; try the Debian layout.
        }
        const string debian = "/usr/lib/postgresql";
        if (!Directory.Exists(debian))
            return null;
        return Directory.GetDirectories(debian)
            .Select(d => (Directory: Path.Combine(d, "bin"), Version: decimal.TryParse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : -1))
            .Where(c => c.Version >= 0 && HasServerTools(c.Directory))
            .OrderByDescending(c => c.Version)
            .Select(c => c.Directory)
            .FirstOrDefault();
    }

    private static bool HasServerTools(string directory) =>
        directory.Length > 0 && File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl"));

    /// <summary>/tmp/rig-pg-*/ with mode 0700, owned by whoever runs the server; data and socket directories inside.</summary>
    private async Task CreateDirectoriesAsync()
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("The throwaway PostgreSQL server runs on Linux and macOS only.");
        // /tmp, not $TMPDIR: the socket path must stay short (sun_path) and reachable by the postgres user.
        var root = Path.Combine("/tmp", "rig-pg-" + Guid.NewGuid().ToString("n")[..12]);
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _root = root;
        Directory.CreateDirectory(SocketDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (RunAsServiceAccount)
        {
            var (exitCode, stdout, stderr) = await RunAsync("chown", ["-R", $"{ServiceAccount}:{ServiceAccount}", root], "/", asServiceAccount: false);
            if (exitCode != 0)
                throw new InvalidOperationException($"Could not hand {root} to the '{ServiceAccount}' user (the tests run as root and PostgreSQL refuses to run as root; the user must exist, e.g. from apt-get install postgresql): {stdout}{stderr}");
        }
    }

    /// <summary>Start on a free loopback port. The port is found by binding port 0; another process may take it
    /// before the server binds it, so a failed start is retried on a new port.</summary>
    private async Task StartAsync()
    {
        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Port = LoopbackPorts.Free(1)[0];
            var durability = Durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
            var options = $"-p {Port} -k {SocketDirectory} -c listen_addresses=127.0.0.1 -c max_connections=300{durability}";
            var (exitCode, stdout, stderr) = await RunServerToolRawAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-o", options, "-w", "-t", "30", "start"]);
            if (exitCode == 0)
            {
                _running = true;
                return;
            }
            failures.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"attempt {attempt} on port {Port}: pg_ctl exited with {exitCode}\n{stdout}{stderr}\nserver log:\n{ReadLog()}");
            await RunServerToolRawAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]);
        }
        throw new InvalidOperationException("The throwaway PostgreSQL server did not start:\n" + failures);
    }

    private string ReadLog()
    {
        try { return File.Exists(LogFile) ? File.ReadAllText(LogFile) : "(no log)"; }
        catch (IOException e) { return e.Message; }
    }

    private async Task RunServerToolAsync(string tool, IReadOnlyList<string> arguments)
    {
        var (exitCode, stdout, stderr) = await RunServerToolRawAsync(tool, arguments);
        if (exitCode != 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {exitCode}.\nstdout:\n{stdout}\nstderr:\n{stderr}");
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> RunServerToolRawAsync(string tool, IReadOnlyList<string> arguments) =>
        RunAsync(Path.Combine(_binDirectory!, tool), arguments, _root!, RunAsServiceAccount);

    /// <summary>Run a program with an argument vector (never a shell), as the postgres user when asked.
    /// pg_ctl is always given <c>-l</c>, so the server it leaves running holds no pipe of ours open.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IReadOnlyList<string> arguments, string workingDirectory, bool asServiceAccount)
    {
        var psi = new ProcessStartInfo(asServiceAccount ? "setpriv" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (asServiceAccount)
        {
            foreach (var a in (string[])[$"--reuid={ServiceAccount}", $"--regid={ServiceAccount}", "--clear-groups", "--", program])
                psi.ArgumentList.Add(a);
        }
        foreach (var argument in arguments)
            psi.ArgumentList.Add(argument);
        psi.Environment["LC_ALL"] = "C";
        // The caller's libpq settings must not redirect the tools to another server or data directory.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {program}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(ToolTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {ToolTimeout.TotalSeconds} s.");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Stop the server and remove its files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
            _admin = null;
        }
        if (_running)
        {
            _running = false;
            await RunServerToolRawAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]);
        }
        if (_root is not null && Directory.Exists(_root))
        {
            try { Directory.Delete(_root, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        _root = null;
    }
}
