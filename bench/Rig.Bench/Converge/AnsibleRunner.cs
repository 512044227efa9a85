using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rig.Bench.Converge;

/// <summary>The same desired state with Debian's <c>ansible-playbook</c>: an inventory of M hosts with
/// <c>ansible_connection=local</c> (one group per site), the parameter layers as group_vars/all (global),
/// group_vars/SITE (site) and host_vars/HOST (device), a playbook with <c>file</c> (directories), <c>template</c>
/// (the Jinja2 forms of the same templates) and <c>unarchive</c> (the same payload as plain .tar.gz, extracted
/// when its last file is missing) into a target directory per host, <c>forks=5</c>.</summary>
internal sealed partial class AnsibleRunner
{
    /// <summary>Parallel hosts (Ansible's own default, as the issue asks).</summary>
    public const int Forks = 5;

    private readonly ExternalTool _tool;
    private readonly string _directory;
    private readonly ConvergeWorkload _workload;

    /// <summary>Write the inventory, variables, templates and playbook under <paramref name="directory"/>.</summary>
    public AnsibleRunner(ExternalTool tool, string directory, ConvergeWorkload workload, IReadOnlyDictionary<string, string> tarballs)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(tarballs);
        _tool = tool;
        _directory = directory;
        _workload = workload;
        Write(tarballs);
    }

    /// <summary>Where the hosts' targets are.</summary>
    public string Targets => Path.Combine(_directory, "targets");

    /// <summary>Target directory of a device.</summary>
    public string RootOf(string device) => Path.Combine(Targets, device);

    /// <summary>Empty every target.</summary>
    public void Reset()
    {
        if (Directory.Exists(Targets))
            Directory.Delete(Targets, recursive: true);
        Directory.CreateDirectory(Targets);
    }

    /// <summary>Timed: one <c>ansible-playbook</c> run; checks the recap (no failures; on a re-run nothing changed).</summary>
    public async Task<double> RunAsync(bool expectChanges, CancellationToken ct)
    {
        var environment = new Dictionary<string, string>
        {
            ["ANSIBLE_CONFIG"] = Path.Combine(_directory, "ansible.cfg"),
            ["ANSIBLE_LOCAL_TEMP"] = Path.Combine(_directory, "tmp", "local"),
            ["ANSIBLE_REMOTE_TEMP"] = Path.Combine(_directory, "tmp", "remote"),
            ["ANSIBLE_NOCOLOR"] = "1",
            ["ANSIBLE_FORCE_COLOR"] = "0",
        };
        var watch = Stopwatch.StartNew();
        var (code, stdout, stderr) = await ExternalTool.RunAsync(_tool.Path, ["-i", "inventory.ini", "playbook.yml"], _directory, environment, TimeSpan.FromMinutes(30), ct).ConfigureAwait(false);
        watch.Stop();
        await File.WriteAllTextAsync(Path.Combine(_directory, expectChanges ? "last-first-run.log" : "last-re-run.log"), stdout + stderr, ct).ConfigureAwait(false);
        if (code != 0)
            throw new InvalidOperationException($"ansible-playbook failed ({code}):\n{Tail(stdout + stderr)}");
        var recap = RecapLine().Matches(stdout).ToDictionary(m => m.Groups["host"].Value, m => (Changed: int.Parse(m.Groups["changed"].Value, CultureInfo.InvariantCulture), Failed: int.Parse(m.Groups["failed"].Value, CultureInfo.InvariantCulture)), StringComparer.Ordinal);
        if (recap.Count != _workload.Devices.Count || recap.Values.Any(r => r.Failed > 0))
            throw new InvalidOperationException($"ansible-playbook's recap has {recap.Count} of {_workload.Devices.Count} hosts or failures:\n{Tail(stdout)}");
        if (!expectChanges && recap.Values.Any(r => r.Changed > 0))
            throw new InvalidOperationException($"ansible-playbook changed something on the re-run (the playbook is not idempotent):\n{Tail(stdout)}");
        if (expectChanges && recap.Values.Any(r => r.Changed == 0))
            throw new InvalidOperationException($"ansible-playbook changed nothing on a host on the first run:\n{Tail(stdout)}");
        return watch.Elapsed.TotalSeconds;
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "..." + text[^4000..];

    [GeneratedRegex(@"^(?<host>\S+)\s+:\s+ok=\d+\s+changed=(?<changed>\d+)\s+unreachable=\d+\s+failed=(?<failed>\d+)", RegexOptions.Multiline)]
    private static partial Regex RecapLine();

    private void Write(IReadOnlyDictionary<string, string> tarballs)
    {
        Directory.CreateDirectory(_directory);
        foreach (var sub in (string[])["group_vars", "host_vars", "templates", "tmp/local", "tmp/remote"])
            Directory.CreateDirectory(Path.Combine(_directory, sub));
        File.WriteAllText(Path.Combine(_directory, "ansible.cfg"), $"""
            [defaults]
            forks = {Forks}
            host_key_checking = False
            retry_files_enabled = False
            interpreter_python = /usr/bin/python3
            gathering = explicit
            deprecation_warnings = False

            [connection]
            pipelining = True
            """ + "\n");

        var inventory = new StringBuilder();
        foreach (var site in _workload.Sites)
        {
            inventory.Append(CultureInfo.InvariantCulture, $"[{site.Name}]\n");
            foreach (var device in _workload.Devices.Where(d => d.Site == site.Name))
                inventory.Append(CultureInfo.InvariantCulture, $"{device.Name} ansible_connection=local\n");
            inventory.Append('\n');
        }
        File.WriteAllText(Path.Combine(_directory, "inventory.ini"), inventory.ToString());

        File.WriteAllText(Path.Combine(_directory, "group_vars", "all.yml"), Yaml(_workload.GlobalParameters));
        foreach (var site in _workload.Sites)
            File.WriteAllText(Path.Combine(_directory, "group_vars", $"{site.Name}.yml"), Yaml(new Dictionary<string, string>(site.Parameters) { ["site_name"] = site.Name }));
        foreach (var device in _workload.Devices)
        {
            File.WriteAllText(Path.Combine(_directory, "host_vars", $"{device.Name}.yml"), Yaml(new Dictionary<string, string>(device.Parameters)
            {
                ["device_hostname"] = device.Hostname,
                ["device_address"] = device.Address,
                ["target_root"] = RootOf(device.Name),
            }));
        }
        foreach (var template in _workload.Templates)
            File.WriteAllText(Path.Combine(_directory, "templates", $"{template.Name}.j2"), template.Jinja());

        var directories = _workload.Templates.Select(t => Path.GetDirectoryName(t.RelativePath)!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var playbook = new StringBuilder();
        playbook.Append("""
            - name: converge benchmark
              hosts: all
              gather_facts: false
              vars:
                bench_directories:

            """);
        foreach (var directory in directories)
            playbook.Append(CultureInfo.InvariantCulture, $"      - {directory}\n");
        playbook.Append("    bench_templates:\n");
        foreach (var template in _workload.Templates)
            playbook.Append(CultureInfo.InvariantCulture, $"      - {{ src: {template.Name}.j2, dest: {template.RelativePath} }}\n");
        playbook.Append("    bench_archives:\n");
        foreach (var archive in _workload.Archives)
            playbook.Append(CultureInfo.InvariantCulture, $"      - {{ src: {tarballs[archive.Name]}, creates: {archive.Marker} }}\n");
        playbook.Append("""
              tasks:
                - name: configuration directories
                  ansible.builtin.file:
                    path: "{{ target_root }}/{{ item }}"
                    state: directory
                    mode: "0755"
                  loop: "{{ bench_directories }}"
                - name: configuration files from templates
                  ansible.builtin.template:
                    src: "templates/{{ item.src }}"
                    dest: "{{ target_root }}/{{ item.dest }}"
                    mode: "0644"
                  loop: "{{ bench_templates }}"
                - name: archive packages
                  ansible.builtin.unarchive:
                    src: "{{ item.src }}"
                    dest: "{{ target_root }}"
                    remote_src: true
                    creates: "{{ target_root }}/{{ item.creates }}"
                  loop: "{{ bench_archives }}"

            """);
        File.WriteAllText(Path.Combine(_directory, "playbook.yml"), playbook.ToString());
    }

    /// <summary>A flat YAML map of strings (every value quoted: Ansible must see "0644"-like values as text).</summary>
    private static string Yaml(IReadOnlyDictionary<string, string> values)
    {
        var text = new StringBuilder("---\n");
        foreach (var (k, v) in values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            text.Append(CultureInfo.InvariantCulture, $"{k}: \"{v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"\n");
        return text.ToString();
    }
}
