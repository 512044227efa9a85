using Rig.Agent.Platform;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>ifupdown reads <c>/etc/network/interfaces</c> and every file in <c>/etc/network/interfaces.d</c>; a second
/// <c>iface IFACE</c> stanza is layered over Rig's, so Rig refuses to configure an interface defined elsewhere.</summary>
internal static class IfupdownStanzas
{
    /// <summary>Throws <c>network-conflict</c> when a file other than <paramref name="ownPath"/> defines
    /// <c>iface <paramref name="interfaceName"/></c>. Nothing has been changed when it throws.</summary>
    public static void RefuseOtherDefinitions(DeviceFileSystem files, string interfaceName, string ownPath)
    {
        ArgumentNullException.ThrowIfNull(files);
        var candidates = new List<string> { "/etc/network/interfaces" };
        var directory = files.Internal("/etc/network/interfaces.d");
        if (Directory.Exists(directory))
            candidates.AddRange(Directory.EnumerateFiles(directory).Select(f => "/etc/network/interfaces.d/" + Path.GetFileName(f)).Order(StringComparer.Ordinal));
        foreach (var candidate in candidates.Where(c => c != ownPath))
        {
            var host = files.Internal(candidate);
            if (!File.Exists(host))
                continue;
            var number = 0;
            foreach (var line in File.ReadLines(host))
            {
                number++;
                var words = line.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
                if (words.Length >= 2 && words[0] == "iface" && words[1] == interfaceName)
                    throw new CommandFailedException("network-conflict",
                        $"{candidate} (line {number}) already defines 'iface {interfaceName}'; ifupdown would layer it over Rig's {ownPath}. Nothing was changed. "
                        + $"Remove that stanza (and its 'auto'/'allow-hotplug {interfaceName}' line) from {candidate} so Rig's file takes its place, or leave {interfaceName} out of the device's network section.");
            }
        }
    }
}
