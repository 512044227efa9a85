using Rig.Model.Domain;

namespace Rig.Model.Files;

/// <summary>Reader of role and bundle items in their friendly form: one kind key per item
/// (<c>- package: nginx-lite</c>, <c>- file: /etc/motd</c>, <c>- service: nginx</c>, <c>- bundle: web</c>,
/// <c>- reboot: "why"</c>) plus that kind's options.</summary>
internal sealed partial class ModelFileReader
{
    private static readonly string[] ItemKinds = ["package", "bundle", "file", "service", "reboot"];
    private static readonly FileItem DefaultFile = new("", "");
    private static readonly ServiceItem DefaultService = new("");
    private static readonly RebootItem DefaultReboot = new();

    private static string[] ItemKeys(string kind) => kind switch
    {
        "package" => ["package", "version"],
        "file" => ["file", "template", "mode", "owner", "group"],
        "service" => ["service", "running", "enabled"],
        _ => [kind],
    };

    private List<Item> ReadItems(Fields owner)
    {
        var items = new List<Item>();
        if (owner.List("items", "[{bundle: base}, {package: nginx-lite, version: 1.24.0}]") is not { } list)
            return items;
        for (var i = 0; i < list.Items.Count; i++)
        {
            var node = list.Items[i];
            var path = $"{owner.Key("items")}/{i}";
            var what = $"item {i} of {owner.What}";
            Record(path, node);
            if (node is not YMap map)
            {
                if (node is not YBad)
                    Error(ModelFileCodes.WrongType, node, path, $"{Capital(what)} must be a map like `- package: nginx-lite`, not {node.Describe}.");
                continue;
            }
            var kinds = map.Entries.Where(e => ItemKinds.Contains(e.Key.Value, StringComparer.Ordinal)).Select(e => e.Key).ToList();
            if (kinds.Count != 1)
            {
                ReportItemKind(map, kinds, path, what);
                continue;
            }
            var kind = kinds[0].Value;
            var f = new Fields(this, map, path, what, ItemKeys(kind));
            f.Check();
            if (ReadItem(f, kind) is { } item)
            {
                items.Add(item);
                if (item is FileItem file)
                    Record($"{owner.Path}/file {file.Path}", node); // where template errors point (DesiredStateBuilder)
            }
        }
        return items;
    }

    private void ReportItemKind(YMap map, List<YScalar> kinds, string path, string what)
    {
        if (kinds.Count > 1)
        {
            Error(ModelFileCodes.ItemKind, kinds[1], $"{path}/{kinds[1].Value}",
                $"{Capital(what)} has both `{kinds[0].Value}:` and `{kinds[1].Value}:`; an item does one thing, so split it into two items.");
            return;
        }
        var guess = map.Entries.Select(e => Suggestions.Closest(e.Key.Value, ItemKinds) is { } s ? (Key: e.Key.Value, Suggestion: s) : default).FirstOrDefault(g => g.Key is not null);
        Error(ModelFileCodes.ItemKind, map, path,
            $"{Capital(what)} has none of `package:`, `bundle:`, `file:`, `service:`, `reboot:`; " +
            (guess.Key is null ? "start it with one of them." : $"did you mean `{guess.Suggestion}:` instead of `{guess.Key}:`?"));
    }

    private Item? ReadItem(Fields f, string kind)
    {
        switch (kind)
        {
            case "package":
            {
                if (f.String("package", required: true, hint: "a package name, like `package: nginx-lite`") is not { } spec)
                    return null;
                var parts = spec.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && !f.Has("version"))
                    return new PackageItem(parts[0], parts[1]);
                if (parts.Length > 2 || (parts.Length == 2 && f.Has("version")))
                {
                    Error(ModelFileCodes.InvalidValue, f.Node("package")!, f.Key("package"),
                        $"`package: {spec}` in {f.What} is not a name or a 'name version' pair" + (f.Has("version") ? " (and `version:` is given too)" : "") +
                        "; write `package: nginx-lite` with `version: 1.24.0`, or `package: nginx-lite 1.24.0`.");
                    return null;
                }
                var version = f.String("version", required: true, hint: $"the exact version, or write `package: {spec} VERSION`");
                return version is null ? null : new PackageItem(spec, version);
            }
            case "bundle":
                return f.String("bundle", required: true, hint: "the bundle's name") is { } bundle ? new BundleItem(bundle) : null;
            case "file":
            {
                var path = f.String("file", required: true, hint: "the absolute path on the device, like /etc/motd");
                var template = f.String("template", required: true, hint: "the name of the template that renders it");
                if (path is null || template is null)
                    return null;
                return new FileItem(path, template, f.StringOr("mode", DefaultFile.Mode), f.StringOr("owner", DefaultFile.Owner), f.StringOr("group", DefaultFile.Group));
            }
            case "service":
            {
                var name = f.String("service", required: true, hint: "the service's name, like nginx");
                var running = f.Bool("running") ?? DefaultService.Running;
                var enabled = f.Bool("enabled") ?? DefaultService.Enabled;
                return name is null ? null : new ServiceItem(name, running, enabled);
            }
            default:
                return new RebootItem(f.String("reboot") ?? DefaultReboot.Reason);
        }
    }
}
