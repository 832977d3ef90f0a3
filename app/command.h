// The shape every `equifl` subcommand has, so main() registers them one way, in
// the order --help lists them:
//
//   struct XCommand                 its command-line choices (flags, arguments);
//   CLI::App* AddXSubcommand(CLI::App& app, XCommand& command)
//                                   adds the subcommand and its flags, stored in
//                                   `command`, to `app`;
//   int RunXCommand([const Config& config,] const XCommand& command)
//                                   runs it once the command line chose it and
//                                   returns the process exit code.
//
// Registration is explicit (no static initialisers); the exit codes are these.
#ifndef EQUIFL_APP_COMMAND_H_
#define EQUIFL_APP_COMMAND_H_

namespace equifl::app {

//! Exit code of a command that failed at run time.
inline constexpr int kExitFailure = 1;
//! Exit code of bad usage: flags, configuration or input data a user fixes.
inline constexpr int kExitUsage = 2;

}  // namespace equifl::app

#endif  // EQUIFL_APP_COMMAND_H_
