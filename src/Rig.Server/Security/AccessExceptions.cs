using Rig.Protocol.Errors;

namespace Rig.Server.Security;

/// <summary>A refusal of the one authorization predicate. The API answers it without further work: 404 for an object
/// the caller may not see (word for word the answer an object that does not exist gets, so names do not leak), 403 for
/// an action the caller may not take on an object it may see.</summary>
internal abstract class AccessException(string code, string message, string hint) : RigException(code, message, retrySafe: false)
{
    /// <summary>What to do about it.</summary>
    public string Hint { get; } = hint;
}

/// <summary>The object is invisible to the caller: answered exactly as if it did not exist (404).</summary>
internal sealed class NotVisibleException(string code, string message, string hint) : AccessException(code, message, hint)
{
    /// <summary>A device the caller may not see, or that does not exist: the one answer for both.</summary>
    public static NotVisibleException Device(string name) => new(NotFound.DeviceCode, NotFound.DeviceMessage(name), NotFound.DeviceHint);
}

/// <summary>The caller may see the object but lacks the verb (403), or a change reaches outside the caller's scope.</summary>
internal sealed class ForbiddenException(string message, string hint, IReadOnlyList<string>? outside = null) : AccessException("forbidden", message, hint)
{
    /// <summary>The objects outside the caller's scope, each named with why (an apply refused as a whole).</summary>
    public IReadOnlyList<string> Outside { get; } = outside ?? [];
}

/// <summary>The words of "not found" answers that must not differ between "does not exist" and "may not be seen".</summary>
internal static class NotFound
{
    public const string DeviceCode = "unknown-device";
    public const string DeviceHint = "See the devices you can see with `rig device list`.";

    /// <summary>The message for a device that does not exist or is not visible.</summary>
    public static string DeviceMessage(string name) => $"There is no device '{name}' (neither in the model nor known to the gateway).";
}
