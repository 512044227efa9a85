using System.Text.Json;
using Rig.Agent.Runtime;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>A network file as it was before a change: its device path and content, or null when it was absent.</summary>
internal sealed record PreviousNetworkFile(string Path, byte[]? Content);

/// <summary>What a network change in progress must put back if the agent dies before it finishes (crash, power
/// loss, kill during the probe): written durably before anything is touched, removed after success or rollback.</summary>
/// <param name="Interface">The interface being changed.</param>
/// <param name="Renderer">The renderer of the change (which manager to ask to reread the restored files).</param>
/// <param name="Files">Every file the change writes or removes, with its previous content.</param>
/// <param name="Live">The interface's live state before the change; null when the change was not applied live.</param>
internal sealed record PendingNetworkChange(string Interface, string Renderer, IReadOnlyList<PreviousNetworkFile> Files, LiveInterfaceState? Live)
{
    /// <summary>Device path of the record.</summary>
    public const string DevicePath = "/var/lib/rig/network/pending.json";

    /// <summary>Write the record at <paramref name="hostPath"/>, flushed to disk before it is renamed into place.</summary>
    public void Save(string hostPath) =>
        DeviceFileSystem.WriteAtomically(hostPath, JsonSerializer.SerializeToUtf8Bytes(this, AgentJson.Default.PendingNetworkChange),
            UnixFileMode.UserRead | UnixFileMode.UserWrite);

    /// <summary>The record at <paramref name="hostPath"/>, or null when there is none.</summary>
    /// <exception cref="JsonException">The record exists but is not a valid record.</exception>
    public static PendingNetworkChange? Load(string hostPath) =>
        File.Exists(hostPath)
            ? JsonSerializer.Deserialize(File.ReadAllBytes(hostPath), AgentJson.Default.PendingNetworkChange) ?? throw new JsonException("the record is null")
            : null;
}
