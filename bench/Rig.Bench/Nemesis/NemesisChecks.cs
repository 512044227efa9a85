using System.Text.Json;
using Rig.Cli.Demo;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Store;

namespace Rig.Bench.Nemesis;

/// <summary>What the checks found. Each list holds one line per problem, naming the device and the command.</summary>
internal sealed class NemesisFindings
{
    /// <summary>A command begun again after its <c>end</c> was journaled: it ran twice.</summary>
    public List<string> Duplicates { get; } = [];
    /// <summary>A journaled result the database does not have (or has otherwise), a command still <c>sent</c> in a
    /// finished queue, a command recorded as succeeded that the agent never journaled.</summary>
    public List<string> Lost { get; } = [];
    /// <summary>A device whose queue or rollout did not finish successfully without an operator.</summary>
    public List<string> Incomplete { get; } = [];
    /// <summary>A device root that differs from the model.</summary>
    public List<string> RootsWrong { get; } = [];
    /// <summary>Devices whose queue the disk-full fault stopped as CHECKLIST 21 prescribes (the command failed with
    /// <c>disk-full</c>, nothing else): not a failure; the nemesis then does what the error tells an operator to do
    /// (free space, converge the device again) and checks the device again.</summary>
    public List<string> DiskFullStops { get; } = [];
    /// <summary>Commands in the devices' queues.</summary>
    public int Commands { get; set; }
    /// <summary>Commands the agents began (journal <c>begin</c> lines).</summary>
    public int Begins => BeginsByDevice.Values.Sum();

    /// <summary>Journal <c>begin</c> lines by device (a recheck replaces its device's count).</summary>
    public Dictionary<string, int> BeginsByDevice { get; } = new(StringComparer.Ordinal);
    /// <summary>Commands begun again after an interruption before their <c>end</c> (allowed: each is idempotent).</summary>
    public int Reruns { get; set; }
    /// <summary>Results answered from the journal (a re-delivery), as the database recorded them.</summary>
    public int FromJournal { get; set; }
    /// <summary>Files compared on the device roots.</summary>
    public int FilesChecked { get; set; }
    /// <summary>Device roots that differ from the model.</summary>
    public int DevicesWithWrongRoots { get; set; }

    /// <summary>Add what a recheck found (problems not already listed, the files and commands it looked at).</summary>
    public void Merge(NemesisFindings again)
    {
        ArgumentNullException.ThrowIfNull(again);
        Duplicates.AddRange([.. again.Duplicates.Except(Duplicates)]);
        Lost.AddRange([.. again.Lost.Except(Lost)]);
        Incomplete.AddRange(again.Incomplete);
        RootsWrong.AddRange(again.RootsWrong);
        DevicesWithWrongRoots += again.DevicesWithWrongRoots;
        FilesChecked += again.FilesChecked;
        Commands += again.Commands;
        foreach (var (device, begins) in again.BeginsByDevice)
            BeginsByDevice[device] = begins;
    }

    /// <summary>True when nothing is wrong.</summary>
    public bool Clean => Duplicates.Count == 0 && Lost.Count == 0 && Incomplete.Count == 0 && RootsWrong.Count == 0;
}

/// <summary>The checks after the storm: every agent's journal against the database (through the operator API),
/// the rollout's outcome, and every device root against the model file by file.</summary>
internal static class NemesisChecks
{
    private sealed record Entry(string Id, string Event, string? Kind, CommandOutcome? Outcome, string? Error);

    /// <summary>Run every check on every device. A device in <paramref name="diskDevice"/> whose queue failed with
    /// <c>disk-full</c> goes to <see cref="NemesisFindings.DiskFullStops"/> instead of incomplete, its root unchecked.</summary>
    public static async Task<NemesisFindings> RunAsync(NemesisSite site, RolloutInfo rollout, string? diskDevice, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(rollout);
        var findings = new NemesisFindings();
        var builder = new DesiredStateBuilder(new ModelIndex(await site.ModelAsync(ct).ConfigureAwait(false)));
        foreach (var device in site.Workload.Devices)
            await CheckDeviceAsync(site, builder, device, rollout, device == diskDevice, findings, ct).ConfigureAwait(false);
        return findings;
    }

    /// <summary>Check one device again after its recovery converge: its whole journal, its latest queue, its root.</summary>
    public static async Task RecheckAsync(NemesisSite site, string device, NemesisFindings findings, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(findings);
        var builder = new DesiredStateBuilder(new ModelIndex(await site.ModelAsync(ct).ConfigureAwait(false)));
        await CheckDeviceAsync(site, builder, device, null, false, findings, ct).ConfigureAwait(false);
    }

    private static async Task CheckDeviceAsync(NemesisSite site, DesiredStateBuilder builder, string device, RolloutInfo? rollout, bool mayStopOnFullDisk,
        NemesisFindings findings, CancellationToken ct)
    {
        var crashes = site.Crashes;
        var detail = await site.Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}", ct).ConfigureAwait(false);
        var journal = ReadJournal(Path.Combine(site.State(device), "journal.jsonl"));
        var queue = detail.Status.Queue;
        var queueFinished = queue is not null && !QueueStates.IsActive(queue.Status);
        var commands = detail.Commands.ToDictionary(c => c.Id, StringComparer.Ordinal);
        findings.Commands += commands.Count;
        findings.FromJournal += commands.Values.Count(c => c.Result?.FromJournal == true);

        // Executed twice: a "begin" after the command's "end".
        var ended = new HashSet<string>(StringComparer.Ordinal);
        var begun = new HashSet<string>(StringComparer.Ordinal);
        var ends = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var rebooted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in journal)
        {
            switch (entry.Event)
            {
                case "begin":
                    findings.BeginsByDevice[device] = findings.BeginsByDevice.GetValueOrDefault(device) + 1;
                    if (ended.Contains(entry.Id))
                        findings.Duplicates.Add($"{device}: {entry.Kind ?? "command"} {entry.Id} ({Describe(commands, entry.Id)}) began again after its end was journaled");
                    else if (!begun.Add(entry.Id))
                        findings.Reruns++;
                    break;
                case "end":
                    ended.Add(entry.Id);
                    ends[entry.Id] = entry;
                    break;
                case "rebooted":
                    rebooted.Add(entry.Id);
                    break;
            }
        }

        // Lost results: the journal's outcome against the database's (one line per command). A recheck looks at the
        // latest queue only: ids of the earlier queue are no longer listed.
        var lost = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, end) in ends)
        {
            if (!commands.TryGetValue(id, out var command))
            {
                if (rollout is not null)
                    findings.Lost.Add($"{device}: journaled result {end.Outcome} of {id} belongs to no command of the device's latest queue");
                continue;
            }
            var expected = end.Outcome switch
            {
                CommandOutcome.Succeeded => CommandStates.Succeeded,
                CommandOutcome.Failed => CommandStates.Failed,
                _ => rebooted.Contains(id) ? CommandStates.Succeeded : CommandStates.Rebooting,
            };
            var recordedFinal = command.Status is CommandStates.Succeeded or CommandStates.Failed;
            if (command.Status != expected && (queueFinished || recordedFinal) && lost.Add(id))
                findings.Lost.Add($"{device}: {command.Kind} #{command.Sequence} {id} ({command.Spec.Describe()}): the journal says {end.Outcome}{(rebooted.Contains(id) ? " then rebooted" : "")}, the database {command.Status}{(command.Result?.Error is { } e ? $" ({e})" : "")} in a {queue?.Status} queue");
        }
        foreach (var command in commands.Values)
        {
            if (lost.Contains(command.Id))
                continue;
            if (queueFinished && command.Status is CommandStates.Sent or CommandStates.Rebooting)
                findings.Lost.Add($"{device}: {command.Kind} #{command.Sequence} {command.Id} is still {command.Status} in queue {queue!.Id}, which is {queue.Status}");
            else if (command.Status == CommandStates.Succeeded && !ends.ContainsKey(command.Id))
                findings.Lost.Add($"{device}: {command.Kind} #{command.Sequence} {command.Id} is recorded as succeeded but the agent never journaled its end");
        }

        // Queues complete without an operator.
        var inRollout = rollout?.Devices.FirstOrDefault(d => d.Device == device);
        if ((rollout is not null && inRollout?.Status != RolloutDeviceStatuses.Succeeded) || queue?.Status != QueueStates.Succeeded)
        {
            var failed = detail.Commands.FirstOrDefault(c => c.Status == CommandStates.Failed);
            if (mayStopOnFullDisk && queue?.Status == QueueStates.Failed && failed?.Result?.ErrorCode == DiskFullCode)
            {
                findings.DiskFullStops.Add($"{device}: {failed.Kind} #{failed.Sequence} ({failed.Spec.Describe()}) failed: {failed.Result.ErrorCode} {failed.Result.Error}");
                return;
            }
            var why = new List<string>
            {
                rollout is null ? "after the recovery converge" : $"rollout {rollout.Status}{(RolloutStates.IsActive(rollout.Status) ? " (still active)" : "")}, device {inRollout?.Status ?? "not in the rollout"}",
                queue is null ? "no queue" : $"queue {queue.Status} at {queue.Position}/{queue.Length}",
            };
            if (failed is not null)
                why.Add($"{failed.Kind} #{failed.Sequence} ({failed.Spec.Describe()}) failed after {failed.Deliveries} deliveries: {failed.Result?.ErrorCode} {failed.Result?.Error}");
            else if ((queue?.Error ?? inRollout?.Detail) is { } reason)
                why.Add(reason);
            if (crashes.TryGetValue(device, out var crashed))
                why.Add($"its agent crashed {crashed.Crashes} time(s), last exit code {crashed.LastExit}");
            findings.Incomplete.Add($"{device}: {string.Join("; ", why)}");
        }

        // The root against the model, file by file.
        var desired = builder.Build(device);
        var problems = DemoVerifier.Verify(desired, site.Root(device), site.Manifests).ToList();
        var expectedFiles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var step in desired.Roles.SelectMany(r => r.Steps))
        {
            if (step is DesiredFile f)
                expectedFiles.Add(f.Path);
            else if (step is DesiredPackage p && site.Manifests.TryGetValue(p.Package.Key, out var manifest))
                expectedFiles.UnionWith(manifest.Files.Select(x => x.Path));
        }
        findings.FilesChecked += expectedFiles.Count;
        problems.AddRange(Unexpected(site.Root(device), expectedFiles).Select(f => $"{f} is not in the model"));
        if (problems.Count > 0)
        {
            findings.DevicesWithWrongRoots++;
            findings.RootsWrong.AddRange(problems.Take(5).Select(p => $"{device}: {p}"));
            if (problems.Count > 5)
                findings.RootsWrong.Add($"{device}: ... {problems.Count - 5} more");
        }
    }

    /// <summary>The agent's error code for a full disk (CHECKLIST 21).</summary>
    public const string DiskFullCode = "disk-full";

    private static string Describe(Dictionary<string, CommandView> commands, string id) =>
        commands.TryGetValue(id, out var c) ? $"#{c.Sequence} {c.Spec.Describe()}, {c.Deliveries} deliveries" : "not in the queue";

    /// <summary>Files under the root that the model does not put there (Rig's own /var/lib/rig left out).</summary>
    private static IEnumerable<string> Unexpected(string root, HashSet<string> expected)
    {
        if (!Directory.Exists(root))
            yield break;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var devicePath = "/" + Path.GetRelativePath(root, file).Replace('\\', '/');
            if (!devicePath.StartsWith("/var/lib/rig/", StringComparison.Ordinal) && !expected.Contains(devicePath))
                yield return devicePath;
        }
    }

    private static List<Entry> ReadJournal(string path)
    {
        var entries = new List<Entry>();
        if (!File.Exists(path))
            return entries;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                CommandOutcome? outcome = null;
                string? error = null;
                if (root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object)
                {
                    if (result.TryGetProperty("outcome", out var o) && Enum.TryParse<CommandOutcome>(o.GetString(), ignoreCase: true, out var parsed))
                        outcome = parsed;
                    if (result.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String)
                        error = e.GetString();
                }
                entries.Add(new Entry(root.GetProperty("id").GetString()!, root.GetProperty("event").GetString()!,
                    root.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null, outcome, error));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // a torn last line (the agent was killed mid-write): the agent ignores it too
            }
        }
        return entries;
    }
}
