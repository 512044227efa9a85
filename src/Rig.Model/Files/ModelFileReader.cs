using Rig.Model.Domain;
using Rig.Protocol;

namespace Rig.Model.Files;

/// <summary>Reads a model directory's files into one <see cref="RigModel"/>: every YAML file may hold any
/// top-level key, lists are merged in file order (ordinal by path), names must be unique across files.
/// Object readers are in the partial files (ModelFileReader.Objects.cs, ModelFileReader.Items.cs).</summary>
internal sealed partial class ModelFileReader
{
    private static readonly string[] TopLevelKeys = ["parameters", "customers", "sites", "devices", "links", "templates", "bundles", "roleKinds", "roles", "assignments", "packages", "approvals", "secrets"];

    private readonly RigLimits _limits;
    private readonly List<ModelFileError> _errors = [];
    private readonly SourceMap _map = new();
    private readonly Dictionary<string, ModelSourceFile> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceLocation> _defined = new(StringComparer.Ordinal);
    private string _file = "";

    private readonly Dictionary<string, string> _parameters = new(StringComparer.Ordinal);
    private readonly List<string> _roleKinds = [];
    private readonly List<Customer> _customers = [];
    private readonly List<ApprovalPolicy> _approvals = [];
    private int _approvalEntries;
    private readonly List<string> _secrets = [];
    private readonly List<Site> _sites = [];
    private readonly List<Device> _devices = [];
    private readonly List<Interconnection> _links = [];
    private readonly List<ConfigTemplate> _templates = [];
    private readonly List<Bundle> _bundles = [];
    private readonly List<Role> _roles = [];
    private readonly List<(RoleAssignment Assignment, SourceLocation At, string Key)> _deviceRoles = [];
    private readonly List<(RoleAssignment Assignment, SourceLocation At, string Key)> _assignments = [];
    private readonly List<PackageInfo> _packages = [];

    public ModelFileReader(RigLimits limits) => _limits = limits;

    /// <summary>Whether a directory entry is a model YAML file (templates/ holds template files only).</summary>
    public static bool IsModelFile(string path) =>
        !path.StartsWith(ModelFiles.TemplatesDirectory + "/", StringComparison.Ordinal) &&
        (path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase));

    /// <summary>A relative path in the form the reader compares: '/'-separated, no leading "./"; null when it
    /// is absolute or leaves the directory.</summary>
    public static string? NormalizePath(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Replace('\\', '/').Split('/'))
        {
            if (part is "" or ".")
                continue;
            if (part == "..")
                return null;
            parts.Add(part);
        }
        return path.StartsWith('/') || path.StartsWith('\\') || parts.Count == 0 ? null : string.Join('/', parts);
    }

    public ModelFileResult Read(IReadOnlyList<ModelSourceFile> files)
    {
        foreach (var file in files)
        {
            var path = NormalizePath(file.Path) ?? throw new ArgumentException($"Model file path '{file.Path}' must be relative to the model directory.", nameof(files));
            if (!_inputs.TryAdd(path, file with { Path = path }))
                throw new ArgumentException($"Model file '{path}' is given twice.", nameof(files));
        }
        foreach (var file in _inputs.Values.Where(f => IsModelFile(f.Path)).OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            _file = file.Path;
            if (file.Text.Length > _limits.MaxModelFileBytes)
            {
                _errors.Add(new ModelFileError(ModelFileCodes.TooLarge, new SourceLocation(_file, 1, 1), "",
                    $"The file is larger than {_limits.MaxModelFileBytes / (1024 * 1024)} MiB; split the model over several files."));
                continue;
            }
            foreach (var document in YamlTree.Parse(_file, file.Text, _limits.MaxModelFileDepth, _errors))
                ReadDocument(document);
        }

        var assignments = new List<RoleAssignment>();
        var seenAssignments = new Dictionary<RoleAssignment, SourceLocation>();
        foreach (var (assignment, at, key) in _deviceRoles.Concat(_assignments))
        {
            if (seenAssignments.TryGetValue(assignment, out var first))
                _errors.Add(new ModelFileError(ModelFileCodes.DuplicateName, at, key, $"Role '{assignment.Role}' is assigned to device '{assignment.Device}' twice: at {first} and here; remove one."));
            else
            {
                seenAssignments.Add(assignment, at);
                assignments.Add(assignment);
            }
        }

        var errors = _errors
            .OrderBy(e => e.Location.File, StringComparer.Ordinal).ThenBy(e => e.Location.Line).ThenBy(e => e.Location.Column)
            .ToList();
        var model = new RigModel
        {
            Parameters = _parameters,
            RoleKinds = _roleKinds,
            Customers = _customers,
            Approvals = _approvals,
            Secrets = _secrets,
            Sites = _sites,
            Devices = _devices,
            Links = _links,
            Templates = _templates,
            Bundles = _bundles,
            Roles = _roles,
            Assignments = assignments,
            Packages = _packages,
        };
        // With errors, the model is still returned as far as it could be read, so that model-level checks (a link to an
        // unknown device) can be reported in the same run as the file errors.
        return errors.Count > 0 ? new ModelFileResult(null, _map, errors) { Partial = model } : new ModelFileResult(model, _map, []);
    }

    private void ReadDocument(YNode document)
    {
        if (document is not YMap map)
        {
            if (document is not YBad)
            {
                Error(ModelFileCodes.WrongType, document, "",
                    $"A model file holds a map of top-level keys ({string.Join(", ", TopLevelKeys)}), not {document.Describe}.");
            }
            return;
        }
        var top = new Fields(this, map, "", "the top level of a model file", TopLevelKeys);
        top.Check();
        foreach (var (key, _) in map.Entries)
        {
            switch (key.Value)
            {
                case "parameters":
                    foreach (var (name, text) in top.StringMap("parameters"))
                    {
                        if (Define($"parameters/{name}", KeyOf(map, "parameters", name), $"Parameter '{name}'"))
                            _parameters[name] = text;
                    }
                    break;
                case "roleKinds":
                    foreach (var (kind, node) in top.StringList("roleKinds", "[firewall, monitoring]"))
                    {
                        Record($"roleKinds/{kind}", node);
                        if (Define($"roleKinds/{kind}", node, $"Role kind '{kind}'"))
                            _roleKinds.Add(kind);
                    }
                    break;
                case "customers":
                    Each(top, "customers", "[{name: acme}]", ReadCustomer);
                    break;
                case "secrets":
                    foreach (var (name, node) in top.StringList("secrets", "[db_password, api_token]"))
                    {
                        Record($"secrets/{name}", node);
                        if (Define($"secrets/{name}", node, $"Secret parameter '{name}'"))
                            _secrets.Add(name);
                    }
                    break;
                case "sites":
                    Each(top, "sites", "[{name: shop}]", ReadSite);
                    break;
                case "devices":
                    Each(top, "devices", "[{name: web-1, site: shop}]", ReadDevice);
                    break;
                case "links":
                    Each(top, "links", "[{from: lb-1, to: web-1, purpose: http}]", ReadLink);
                    break;
                case "templates":
                    Each(top, "templates", "[{name: motd, file: templates/motd.liquid}]", ReadTemplate);
                    break;
                case "bundles":
                    Each(top, "bundles", "[{name: web, items: [...]}]", ReadBundle);
                    break;
                case "roles":
                    Each(top, "roles", "[{name: web, kind: app, items: [...]}]", ReadRole);
                    break;
                case "assignments":
                    Each(top, "assignments", "[{device: web-1, role: web}]", ReadAssignment);
                    break;
                case "approvals":
                    EachUnnamed(top, "approvals", "[{kinds: [os], approvals: 1}]", ReadApprovalPolicy);
                    break;
                case "packages":
                    Each(top, "packages", "[{name: nginx-lite, version: 1.24.0, sha256: ...}]", ReadPackage);
                    break;
            }
        }
    }

    /// <summary>Read every element of a top-level list of unnamed objects (approval policies), numbered across files so
    /// that each element's path is unique.</summary>
    private void EachUnnamed(Fields top, string key, string example, Action<YMap, int> read)
    {
        if (top.List(key, example) is not { } list)
            return;
        foreach (var item in list.Items)
        {
            var index = _approvalEntries++;
            if (item is YMap map)
                read(map, index);
            else if (item is not YBad)
                Error(ModelFileCodes.WrongType, item, $"{key}/{index}", $"Entry {index} of `{key}` must be a map like `- {{kinds: [os], approvals: 1}}`, not {item.Describe}.");
        }
    }

    /// <summary>Read every element of a top-level list; elements that are not maps are reported.</summary>
    private void Each(Fields top, string key, string example, Action<YMap, int> read)
    {
        if (top.List(key, example) is not { } list)
            return;
        for (var i = 0; i < list.Items.Count; i++)
        {
            if (list.Items[i] is YMap map)
                read(map, i);
            else if (list.Items[i] is not YBad)
                Error(ModelFileCodes.WrongType, list.Items[i], $"{key}/{i}", $"Entry {i} of `{key}` must be a map like `- name: ...`, not {list.Items[i].Describe}.");
        }
    }

    private static YNode KeyOf(YMap map, string key, string entry)
    {
        foreach (var (k, v) in map.Entries)
        {
            if (k.Value == key && v is YMap inner)
            {
                foreach (var (ik, _) in inner.Entries)
                {
                    if (ik.Value == entry)
                        return ik;
                }
            }
        }
        return map;
    }

    /// <summary>Register a name; false (and an error naming both places) when it is already defined.</summary>
    internal bool Define(string path, YNode at, string what)
    {
        var location = LocationOf(at);
        if (_defined.TryGetValue(path, out var first))
        {
            Error(ModelFileCodes.DuplicateName, at, path, $"{what} is defined twice: at {first} and here; names must be unique across all files of the model, so rename or remove one.");
            return false;
        }
        _defined.Add(path, location);
        return true;
    }

    internal SourceLocation LocationOf(YNode node) => new(_file, node.Line, node.Column);

    internal void Record(string path, YNode node) => _map.Add(path, LocationOf(node));

    internal void Error(string code, YNode at, string key, string message) => _errors.Add(new ModelFileError(code, LocationOf(at), key, message));
}
