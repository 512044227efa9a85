using System.Globalization;
using System.Runtime.InteropServices;

namespace Rig.Agent.Platform.Linux;

/// <summary>A file's permission bits, owner and group as they are on disk (not as Rig recorded them), so drift sees a
/// chmod or chown made behind Rig's back. .NET has no uid/gid API: <c>statx(2)</c> is called directly (no process),
/// without following a final symbolic link. Owner and group numbers are named from the device root's own
/// <c>/etc/passwd</c> and <c>/etc/group</c> (a root prepared offline has its own users), numerically when unknown.</summary>
internal sealed partial class OnDiskAttributes
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxMode = 0x2, StatxUid = 0x8, StatxGid = 0x10;

    private readonly Dictionary<uint, string> _users;
    private readonly Dictionary<uint, string> _groups;

    /// <summary>Names for the device root <paramref name="root"/>; read once (one inventory).</summary>
    public OnDiskAttributes(string root)
    {
        _users = ReadNames(Path.Combine(root, "etc/passwd"));
        _groups = ReadNames(Path.Combine(root, "etc/group"));
    }

    /// <summary>Mode (four octal digits, e.g. <c>0644</c>), owner and group of <paramref name="hostPath"/>, or null when
    /// it cannot be read (gone, or statx unavailable).</summary>
    public (string Mode, string Owner, string Group)? Read(string hostPath)
    {
        ArgumentNullException.ThrowIfNull(hostPath);
        if (Stat(hostPath) is not { } stat)
            return null;
        return (ModeText(stat.Mode), _users.GetValueOrDefault(stat.Uid) ?? stat.Uid.ToString(CultureInfo.InvariantCulture),
            _groups.GetValueOrDefault(stat.Gid) ?? stat.Gid.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Permission bits as Rig writes them in the model: <c>0644</c>, <c>2755</c> (setuid/setgid/sticky kept).</summary>
    public static string ModeText(int mode) => Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0');

    /// <summary>Raw <c>statx</c> fields: permission bits (without the file type), uid and gid.</summary>
    public static (int Mode, uint Uid, uint Gid)? Stat(string hostPath)
    {
        ArgumentNullException.ThrowIfNull(hostPath);
        // struct statx (linux/stat.h; the same on every architecture): stx_mask u32 @0, stx_blksize u32 @4,
        // stx_attributes u64 @8, stx_nlink u32 @16, stx_uid u32 @20, stx_gid u32 @24, stx_mode u16 @28; 256 bytes.
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, hostPath, AtSymlinkNoFollow, StatxMode | StatxUid | StatxGid, ref MemoryMarshal.GetReference(buffer)) != 0)
            return null;
        var mask = MemoryMarshal.Read<uint>(buffer);
        if ((mask & (StatxMode | StatxUid | StatxGid)) != (StatxMode | StatxUid | StatxGid))
            return null;
        return (MemoryMarshal.Read<ushort>(buffer[28..]) & 0xFFF, MemoryMarshal.Read<uint>(buffer[20..]), MemoryMarshal.Read<uint>(buffer[24..]));
    }

    /// <summary>The ids of <paramref name="owner"/> and <paramref name="group"/> in the device root's passwd/group
    /// files (or numeric ids). A name the root does not know fails with <c>unknown-owner</c>: resolved before a file
    /// is written, so a bad owner changes nothing.</summary>
    public static (uint Uid, uint Gid) ResolveOwner(string root, string owner, string group) =>
        (IdOf(Path.Combine(root, "etc/passwd"), owner, "owner"), IdOf(Path.Combine(root, "etc/group"), group, "group"));

    /// <summary>Give <paramref name="hostPath"/> (not a link's target) the ids from <see cref="ResolveOwner"/>.</summary>
    public static void SetOwner(string hostPath, (uint Uid, uint Gid) ids, string owner, string group)
    {
        if (Lchown(hostPath, ids.Uid, ids.Gid) != 0)
            throw new CommandFailedException("chown-failed", $"Could not give '{hostPath}' owner {owner} ({ids.Uid}) and group {group} ({ids.Gid}): errno {Marshal.GetLastPInvokeError()}; the agent must run as root.");
    }

    private static uint IdOf(string file, string name, string what)
    {
        if (uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var numeric))
            return numeric;
        foreach (var (id, known) in ReadNames(file))
        {
            if (known == name)
                return id;
        }
        throw new CommandFailedException("unknown-owner", $"The device has no {what} '{name}' in {file}; create it first (a package's postinst or a role step), or change the file's {what} in the model.");
    }

    /// <summary>name:x:id:... lines of a passwd or group file; the first name of an id wins, as getpwuid does.</summary>
    private static Dictionary<uint, string> ReadNames(string path)
    {
        var names = new Dictionary<uint, string>();
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return names;
        }
        foreach (var line in text.Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length >= 3 && fields[0].Length > 0 && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                names.TryAdd(id, fields[0]);
        }
        return names;
    }

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Lchown(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, ref byte buffer);
}
