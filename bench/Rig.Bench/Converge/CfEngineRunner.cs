using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Rig.Bench.Converge;

/// <summary>The same desired state with Debian's CFEngine 3 <c>cf-agent -K -f policy.cf</c> (local, no server, no
/// network). CFEngine renders the files itself: each file is a <c>files</c> promise with <c>edit_template</c> over the
/// Mustache form of the template and <c>template_method => "mustache"</c>; its data is
/// <c>mergedata(global, site, device)</c> of JSON containers read with <c>readjson</c> (the parameter layers, later
/// wins). Archives: a <c>commands</c> promise runs <c>tar -xzf</c> of the same plain .tar.gz into the target only
/// when the archive's last file is missing (the "creates" idiom). One policy for all M targets: cf-agent is one
/// process that works through every promise.</summary>
internal sealed class CfEngineRunner
{
    private readonly ExternalTool _tool;
    private readonly string _directory;
    private readonly ConvergeWorkload _workload;

    /// <summary>Write the policy, data and templates under <paramref name="directory"/>.</summary>
    public CfEngineRunner(ExternalTool tool, ExternalTool tar, string directory, ConvergeWorkload workload, IReadOnlyDictionary<string, string> tarballs)
    {
        ArgumentNullException.ThrowIfNull(tar);
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(tarballs);
        _tool = tool;
        _directory = directory;
        _workload = workload;
        Write(tar.Path, tarballs);
    }

    /// <summary>Where the targets are.</summary>
    public string Targets => Path.Combine(_directory, "targets");

    /// <summary>Target directory of a device.</summary>
    public string RootOf(string device) => Path.Combine(Targets, device);

    /// <summary>The policy file.</summary>
    public string Policy => Path.Combine(_directory, "policy.cf");

    /// <summary>Empty every target.</summary>
    public void Reset()
    {
        if (Directory.Exists(Targets))
            Directory.Delete(Targets, recursive: true);
        Directory.CreateDirectory(Targets);
    }

    /// <summary>Timed: one <c>cf-agent -K -f policy.cf</c> run (-K: ignore locks, so a re-run right after the first
    /// one is evaluated rather than skipped).</summary>
    public async Task<double> RunAsync(bool first, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var (code, stdout, stderr) = await ExternalTool.RunAsync(_tool.Path, ["-K", "-f", Policy], _directory, null, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        watch.Stop();
        var output = (stdout + stderr).Trim();
        await File.WriteAllTextAsync(Path.Combine(_directory, first ? "last-first-run.log" : "last-re-run.log"), output, ct).ConfigureAwait(false);
        if (code != 0 || output.Contains("error:", StringComparison.OrdinalIgnoreCase) || output.Contains("warning:", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"cf-agent failed ({code}) or complained:\n{(output.Length > 4000 ? output[..4000] + "..." : output)}");
        return watch.Elapsed.TotalSeconds;
    }

    private void Write(string tar, IReadOnlyDictionary<string, string> tarballs)
    {
        var data = Path.Combine(_directory, "data");
        var templates = Path.Combine(_directory, "templates");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(templates);
        File.WriteAllText(Path.Combine(data, "global.json"), Json(_workload.GlobalParameters));
        foreach (var site in _workload.Sites)
            File.WriteAllText(Path.Combine(data, $"site-{site.Name}.json"), Json(new Dictionary<string, string>(site.Parameters) { ["site_name"] = site.Name }));
        foreach (var device in _workload.Devices)
        {
            File.WriteAllText(Path.Combine(data, $"device-{device.Name}.json"), Json(new Dictionary<string, string>(device.Parameters)
            {
                ["device_name"] = device.Name,
                ["device_hostname"] = device.Hostname,
                ["device_address"] = device.Address,
            }));
        }
        foreach (var template in _workload.Templates)
            File.WriteAllText(Path.Combine(templates, $"{template.Name}.mustache"), template.Mustache());

        static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        static string List(IEnumerable<string> items) => "{ " + string.Join(", ", items.Select(Quote)) + " }";

        var policy = new StringBuilder();
        policy.Append(CultureInfo.InvariantCulture, $$"""
            # Converge benchmark: M targets, each with K files from Mustache templates and P archives.
            body common control
            {
              bundlesequence => { "converge" };
            }

            bundle agent converge
            {
              vars:
                "root" string => {{Quote(Targets)}};
                "data" string => {{Quote(data)}};
                "templates" string => {{Quote(templates)}};
                "devices" slist => {{List(_workload.Devices.Select(d => d.Name))}};
                "files" slist => {{List(_workload.Templates.Select(t => t.Name))}};
                "archives" slist => {{List(_workload.Archives.Select(a => a.Name))}};
                "sites" slist => {{List(_workload.Sites.Select(s => s.Name))}};
                "global" data => readjson("$(data)/global.json", 1M);
                "site_$(sites)" data => readjson("$(data)/site-$(sites).json", 1M);
                "device_$(devices)" data => readjson("$(data)/device-$(devices).json", 1M);

            """);
        foreach (var device in _workload.Devices)
            policy.Append(CultureInfo.InvariantCulture, $"    \"site_of[{device.Name}]\" string => {Quote(device.Site)};\n");
        foreach (var template in _workload.Templates)
            policy.Append(CultureInfo.InvariantCulture, $"    \"path[{template.Name}]\" string => {Quote(template.RelativePath)};\n");
        foreach (var archive in _workload.Archives)
        {
            policy.Append(CultureInfo.InvariantCulture, $"    \"tarball[{archive.Name}]\" string => {Quote(tarballs[archive.Name])};\n");
            policy.Append(CultureInfo.InvariantCulture, $"    \"marker[{archive.Name}]\" string => {Quote(archive.Marker)};\n");
        }
        policy.Append(CultureInfo.InvariantCulture, $$"""

              files:
                "$(root)/$(devices)/$(path[$(files)])"
                  create => "true",
                  edit_template => "$(templates)/$(files).mustache",
                  template_method => "mustache",
                  template_data => mergedata("global", "site_$(site_of[$(devices)])", "device_$(devices)"),
                  edit_defaults => no_backup,
                  perms => mode_0644;

              commands:
                "{{tar}} -xzf $(tarball[$(archives)]) -C $(root)/$(devices)"
                  if => not(fileexists("$(root)/$(devices)/$(marker[$(archives)])"));
            }

            body edit_defaults no_backup
            {
              edit_backup => "false";
            }

            body perms mode_0644
            {
              mode => "0644";
              rxdirs => "false";
            }

            """);
        File.WriteAllText(Policy, policy.ToString());
    }

    private static string Json(IReadOnlyDictionary<string, string> values) =>
        JsonSerializer.Serialize(values.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value));
}
