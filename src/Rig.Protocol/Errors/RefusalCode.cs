using System.Collections.Frozen;

namespace Rig.Protocol.Errors;

/// <summary>Why the gateway refuses an agent's request. One list for both sides: the gateway raises these, the agent
/// decides what to do from them (e.g. re-send what is <see cref="MissingResults"/>). On the wire a code is its kebab-case
/// name (<see cref="RefusalCodes.Wire"/>), in <c>ErrorResponse.Code</c>; the HTTP status is chosen once, at the endpoint.</summary>
public enum RefusalCode
{
    /// <summary>The agent speaks another protocol version.</summary>
    ProtocolVersion,
    /// <summary>The request names a device other than the one its client certificate names.</summary>
    OtherDevice,
    /// <summary>The client certificate was not issued to any device by this gateway.</summary>
    UnknownCertificate,
    /// <summary>The client certificate was revoked.</summary>
    RevokedCertificate,
    /// <summary>The client certificate has expired.</summary>
    ExpiredCertificate,
    /// <summary>A result names a command this gateway does not know.</summary>
    UnknownCommand,
    /// <summary>A result names a command of another device's queue.</summary>
    ForeignCommand,
    /// <summary>A result is malformed or out of order (reported twice, after a failure, a non-reboot answering "rebooting").</summary>
    BadResult,
    /// <summary>A reboot was reported before the results of the commands ahead of it; the agent re-sends those first.</summary>
    MissingResults,
    /// <summary>An enrollment names an invalid device.</summary>
    BadDevice,
    /// <summary>An enrollment token is unknown, used, expired or for another device.</summary>
    BadToken,
    /// <summary>An enrollment's certificate signing request is not valid.</summary>
    BadCsr,
    /// <summary>The request body is not a valid message of the protocol.</summary>
    BadRequest,
}

/// <summary>Wire names of <see cref="RefusalCode"/>.</summary>
public static class RefusalCodes
{
    private static readonly FrozenDictionary<RefusalCode, string> Names = Enum.GetValues<RefusalCode>().ToFrozenDictionary(c => c, Kebab);
    private static readonly FrozenDictionary<string, RefusalCode> Codes = Names.ToFrozenDictionary(e => e.Value, e => e.Key, StringComparer.Ordinal);

    /// <summary>The code as it travels (<c>missing-results</c>).</summary>
    public static string Wire(this RefusalCode code) => Names[code];

    /// <summary>The code named by <paramref name="wire"/>, or null for a code this side does not know (a newer peer).</summary>
    public static RefusalCode? Parse(string? wire) => wire is not null && Codes.TryGetValue(wire, out var code) ? code : null;

    private static string Kebab(RefusalCode code)
    {
        var name = code.ToString();
        var text = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
                text.Append('-');
            text.Append(char.ToLowerInvariant(name[i]));
        }
        return text.ToString();
    }
}

/// <summary>The one base of Rig's own errors: a stable code (what scripts and the other side match on) and whether
/// trying the same thing again may succeed (<see cref="RetrySafe"/>: failed before anything was done, or the cause is
/// passing) or cannot (refused: the request itself is wrong).</summary>
public abstract class RigException(string code, string message, bool retrySafe, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Stable, kebab-case error code.</summary>
    public string Code { get; } = code;

    /// <summary>True when the same request may succeed later unchanged.</summary>
    public bool RetrySafe { get; } = retrySafe;
}
