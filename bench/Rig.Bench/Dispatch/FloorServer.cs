using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Security;

namespace Rig.Bench.Dispatch;

/// <summary>The dispatch floor: the least a gateway can do per exchange on this machine. A minimal Kestrel endpoint on the
/// agent path with the gateway's own certificate and TLS settings (HTTP/1.1, TLS 1.2/1.3, client certificates checked
/// against Rig's CA by the handshake), kept-alive connections, that parses the request, durably group-commits one small
/// row per request (SQLite WAL synchronous=FULL, one writer; PostgreSQL: as many writers as the store has lanes, each
/// batch one multi-row INSERT in autocommit: one round trip, one fsync) and answers a write-file command until the
/// device has had <c>--commands</c> of them in the session, then "no command". Runs as its own process
/// (<c>rig-bench floor-server</c>), so its CPU time is its own, like the gateway's.</summary>
internal static class FloorServer
{
    /// <summary>The command-line verb that runs the server (not a benchmark).</summary>
    public const string Verb = "floor-server";

    /// <summary>Most rows in one commit (the store's group commit uses the same bound).</summary>
    private const int MaxBatch = 512;

    private sealed record Row(string Device, string RequestId, int Sequence, TaskCompletionSource Done);

    /// <summary>Run until killed: <c>floor-server --data GATEWAY_DATA --port N --commands K (--sqlite PATH | --postgres CONNECTION)</c>.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? "";
        var data = Arg("--data");
        var port = int.Parse(Arg("--port"), CultureInfo.InvariantCulture);
        var commands = int.Parse(Arg("--commands"), CultureInfo.InvariantCulture);
        var postgres = Arg("--postgres");
        var sqlite = Arg("--sqlite");

        var limits = RigLimits.Default;
        using var ca = CertificateAuthority.LoadOrCreate(Path.Combine(data, "ca"), limits, TimeProvider.System);
        var tls = Path.Combine(data, "tls");
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(tls, "gateway.crt")), File.ReadAllText(Path.Combine(tls, "gateway.key")));
        var chainPolicy = ca.ClientChainPolicy();

        var lanes = postgres.Length > 0 ? Math.Clamp(2 * Environment.ProcessorCount, 2, 16) : 1;
        var channels = Enumerable.Range(0, lanes).Select(_ => Channel.CreateUnbounded<Row>(new UnboundedChannelOptions { SingleReader = true })).ToArray();
        Func<Channel<Row>, Task> writer = postgres.Length > 0 ? await PostgresWriterAsync(postgres).ConfigureAwait(false) : await SqliteWriterAsync(sqlite).ConfigureAwait(false);
        var writers = channels.Select(c => Task.Run(async () =>
        {
            try
            {
                await writer(c).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // A writer that died would leave every request of its lane waiting: end the process, the benchmark reports it.
                await Console.Error.WriteLineAsync($"floor writer failed: {e}").ConfigureAwait(false);
                Environment.Exit(3);
            }
        })).ToArray();

        var sessions = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "rig-floor" });
        builder.Services.AddRouting();
        builder.Services.AddSingleton<ILoggerFactory>(LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error).AddSimpleConsole()));
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes;
            k.Limits.KeepAliveTimeout = limits.KeepAliveIdle + TimeSpan.FromSeconds(5);
            k.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    https.CheckCertificateRevocation = false;
                    https.OnAuthenticate = (_, ssl) => ssl.CertificateChainPolicy = chainPolicy;
                    https.ClientCertificateValidation = (_, _, errors) => errors == SslPolicyErrors.None;
                    https.HandshakeTimeout = limits.RequestHeadersTimeout;
                });
            });
        });
        var app = builder.Build();
        var content = new string('x', 40);
        app.MapPost(ProtocolInfo.ExchangePath, async context =>
        {
            var request = await JsonSerializer.DeserializeAsync(context.Request.Body, RigJson.Default.ExchangeRequest, context.RequestAborted).ConfigureAwait(false);
            if (request is null || context.Connection.ClientCertificate is null)
            {
                context.Response.StatusCode = 400;
                return;
            }
            // A session starts with the poke's inquiry; every request after it carries a result (one command per round trip).
            var sequence = request.Reason == InquiryReason.Continue ? sessions.AddOrUpdate(request.Device, 1, (_, n) => n + 1) : sessions[request.Device] = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            channels[(int)((uint)StringComparer.Ordinal.GetHashCode(request.Device) % (uint)lanes)].Writer.TryWrite(new Row(request.Device, request.RequestId, sequence, done));
            await done.Task.ConfigureAwait(false);
            var response = sequence >= commands
                ? new ExchangeResponse { Answer = ExchangeAnswer.NoCommand }
                : new ExchangeResponse
                {
                    Answer = ExchangeAnswer.Command,
                    Command = new Command
                    {
                        Id = Guid.CreateVersion7().ToString("n"), QueueId = "floor", Sequence = sequence, QueueLength = commands,
                        Spec = new WriteFileCommand($"/etc/bench/f{sequence}.conf", content, "0", "0644", "root", "root"),
                    },
                };
            context.Response.ContentType = ProtocolInfo.JsonContentType;
            await JsonSerializer.SerializeAsync(context.Response.Body, response, RigJson.Default.ExchangeResponse, context.RequestAborted).ConfigureAwait(false);
        });
        await app.StartAsync().ConfigureAwait(false);
        Console.WriteLine("floor listening");
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        foreach (var c in channels)
            c.Writer.TryComplete();
        await Task.WhenAll(writers).ConfigureAwait(false);
        return 0;
    }

    private static async Task<Func<Channel<Row>, Task>> SqliteWriterAsync(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync().ConfigureAwait(false);
        await Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS floor (device TEXT NOT NULL, request TEXT NOT NULL, sequence INTEGER NOT NULL, at INTEGER NOT NULL)").ConfigureAwait(false);
        return async channel =>
        {
            var batch = new List<Row>(MaxBatch);
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO floor (device, request, sequence, at) VALUES ($d, $r, $s, $t)";
            var (d, r, s, t) = (insert.Parameters.Add("$d", SqliteType.Text), insert.Parameters.Add("$r", SqliteType.Text), insert.Parameters.Add("$s", SqliteType.Integer), insert.Parameters.Add("$t", SqliteType.Integer));
            while (await Drain(channel.Reader, batch).ConfigureAwait(false))
            {
                await using (var tx = await connection.BeginTransactionAsync().ConfigureAwait(false))
                {
                    insert.Transaction = (SqliteTransaction)tx;
                    foreach (var row in batch)
                    {
                        (d.Value, r.Value, s.Value, t.Value) = (row.Device, row.RequestId, row.Sequence, DateTime.UtcNow.Ticks);
                        await insert.ExecuteNonQueryAsync().ConfigureAwait(false);
                    }
                    await tx.CommitAsync().ConfigureAwait(false);
                }
                foreach (var row in batch)
                    row.Done.SetResult();
            }
        };
    }

    private static async Task<Func<Channel<Row>, Task>> PostgresWriterAsync(string connectionString)
    {
        var source = NpgsqlDataSource.Create(connectionString);
        await using (var c = await source.OpenConnectionAsync().ConfigureAwait(false))
            await Execute(c, "CREATE TABLE IF NOT EXISTS floor (device text NOT NULL, request text NOT NULL, sequence int NOT NULL, at bigint NOT NULL)").ConfigureAwait(false);
        return async channel =>
        {
            var batch = new List<Row>(MaxBatch);
            await using var connection = await source.OpenConnectionAsync().ConfigureAwait(false);
            await using var insert = new NpgsqlCommand("INSERT INTO floor (device, request, sequence, at) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])", connection);
            foreach (var type in new[] { NpgsqlTypes.NpgsqlDbType.Text, NpgsqlTypes.NpgsqlDbType.Text, NpgsqlTypes.NpgsqlDbType.Integer, NpgsqlTypes.NpgsqlDbType.Bigint })
                insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | type });
            await insert.PrepareAsync().ConfigureAwait(false);
            while (await Drain(channel.Reader, batch).ConfigureAwait(false))
            {
                // Autocommit: one statement, one round trip, one durable commit for the whole batch.
                insert.Parameters[0].Value = batch.Select(b => b.Device).ToArray();
                insert.Parameters[1].Value = batch.Select(b => b.RequestId).ToArray();
                insert.Parameters[2].Value = batch.Select(b => b.Sequence).ToArray();
                insert.Parameters[3].Value = batch.Select(_ => DateTime.UtcNow.Ticks).ToArray();
                await insert.ExecuteNonQueryAsync().ConfigureAwait(false);
                foreach (var row in batch)
                    row.Done.SetResult();
            }
        };
    }

    /// <summary>Wait for one row, then take whatever else is waiting (no fixed delay: a lone row commits at once).</summary>
    private static async Task<bool> Drain(ChannelReader<Row> reader, List<Row> batch)
    {
        batch.Clear();
        if (!await reader.WaitToReadAsync().ConfigureAwait(false))
            return false;
        while (batch.Count < MaxBatch && reader.TryRead(out var row))
            batch.Add(row);
        return true;
    }

    private static async Task Execute(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }
}
