namespace Rig.Agent.Platform;

/// <summary>Tells a full disk (or an exhausted quota) from other I/O errors, so that a command reports
/// <c>disk-full</c>, the real cause, instead of a generic <c>io-error</c> (CHECKLIST 21).</summary>
internal static class DiskFull
{
    /// <summary>The error code results carry.</summary>
    public const string Code = "disk-full";

    /// <summary>What the operator does about it. The gateway plans with the free space of the device's last inventory,
    /// so after freeing space that inventory must be fresh before a converge passes the disk check.</summary>
    public const string Remedy = "free space on the device, refresh its inventory (run a stored script with an inventory command, or wait for its next check-in), then converge it again";

    private const int Enospc = 28;
    private const int Edquot = 122;

    /// <summary>True when <paramref name="e"/> (or an exception inside it) is ENOSPC or EDQUOT.</summary>
    public static bool Is(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            // .NET on Unix puts the errno into HResult for I/O errors it has no more specific exception for.
            if (e is IOException && (e.HResult is Enospc or Edquot || e.Message.Contains("No space left on device", StringComparison.Ordinal)))
                return true;
        }
        return false;
    }
}
