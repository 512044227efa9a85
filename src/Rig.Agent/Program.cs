using Rig.Agent;

return await AgentCommandLine.RunAsync(args).ConfigureAwait(false);
