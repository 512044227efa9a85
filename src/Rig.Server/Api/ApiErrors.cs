using Microsoft.AspNetCore.Http;

namespace Rig.Server.Api;

/// <summary>The one place an operator API error becomes an HTTP answer, so every error has the same shape
/// (<see cref="ApiErrorResponse"/>) whichever endpoint or middleware refuses the request.</summary>
public static class ApiErrors
{
    /// <summary>Answer <paramref name="error"/> as <c>{"error":{...}}</c> with <paramref name="statusCode"/>.</summary>
    public static IResult Json(ApiError error, int statusCode) => Results.Json(new ApiErrorResponse(error), statusCode: statusCode);
}
