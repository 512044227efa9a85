using Rig.Cli;

return await RigCli.RunAsync(args).ConfigureAwait(false);
