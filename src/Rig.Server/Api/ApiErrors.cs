using Microsoft.AspNetCore.Http;
using Rig.Protocol.Errors;
using Rig.Server.Gateway;
using Rig.Server.Packages;

namespace Rig.Server.Api;

/// <summary>The one place an operator API error becomes an HTTP answer, so every error has the same shape
/// (<see cref="ApiErrorResponse"/>) whichever endpoint or middleware refuses the request. The services below the API
/// say what kind of refusal it is; the HTTP status is chosen here only.</summary>
internal static class ApiErrors
{
    /// <summary>Answer <paramref name="error"/> as <c>{"error":{...}}</c> with <paramref name="statusCode"/>.</summary>
    public static IResult Json(ApiError error, int statusCode) => Results.Json(new ApiErrorResponse(error), statusCode: statusCode);

    /// <summary>Answer a refusal of the gateway or its services with its code, message, an optional hint and its status.</summary>
    public static IResult Refused(RigException error, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        hint ??= error switch
        {
            Security.AccessException access => access.Hint,
            Services.TrustRefusedException trust => trust.Hint,
            _ => null,
        };
        return Json(new ApiError(error.Code, error.Message, Hint: hint), StatusOf(error));
    }

    /// <summary>The endpoint filter that answers the one predicate's refusals: 404 for what the caller may not see
    /// (the same answer as for what does not exist), 403 for what the caller may see but not do, and refused trust
    /// changes with their status. Registered inside the audit filter, so refusals are logged with their status.</summary>
    public static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(invocation).ConfigureAwait(false);
        }
        catch (Security.AccessException e)
        {
            return Refused(e);
        }
        catch (Services.TrustRefusedException e)
        {
            return Refused(e);
        }
    }

    /// <summary>The HTTP status of an error a service raised.</summary>
    public static int StatusOf(RigException error) => error switch
    {
        RolloutRefusedException rollout => StatusOf(rollout.Refusal),
        Security.NotVisibleException => StatusCodes.Status404NotFound,
        Security.ForbiddenException => StatusCodes.Status403Forbidden,
        Services.TrustRefusedException trust => trust.Refusal switch
        {
            Services.TrustRefusedException.Kind.NotFound => StatusCodes.Status404NotFound,
            Services.TrustRefusedException.Kind.Conflict => StatusCodes.Status409Conflict,
            _ => StatusCodes.Status400BadRequest,
        },
        PackageFetchException fetch => StatusOf(fetch.Kind),
        PackageRejectedException rejected => rejected.Code == PackageRejectedException.Conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>400 for a wrong request, 404 for something that does not exist, 409 for a conflict with what runs now.</summary>
    public static int StatusOf(OperatorRefusal refusal) => refusal switch
    {
        OperatorRefusal.Invalid => StatusCodes.Status400BadRequest,
        OperatorRefusal.NotFound => StatusCodes.Status404NotFound,
        OperatorRefusal.Conflict => StatusCodes.Status409Conflict,
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, "An operator refusal without an HTTP status."),
    };

    /// <summary>A failed fetch: the request's fault (400, 404, 409), the mirror's (502) or the gateway host's (503).</summary>
    public static int StatusOf(PackageFetchErrorKind kind) => kind switch
    {
        PackageFetchErrorKind.BadRequest => StatusCodes.Status400BadRequest,
        PackageFetchErrorKind.UnknownDevice or PackageFetchErrorKind.NotFound => StatusCodes.Status404NotFound,
        PackageFetchErrorKind.DeviceNotUsable or PackageFetchErrorKind.Unresolvable or PackageFetchErrorKind.Busy => StatusCodes.Status409Conflict,
        PackageFetchErrorKind.Repository => StatusCodes.Status502BadGateway,
        _ => StatusCodes.Status503ServiceUnavailable,
    };
}
