package main

import "github.com/spf13/cobra"

// addSubcommands registers the tool subcommands (simulators, operator tools,
// benchmarks): one line each.
func addSubcommands(root *cobra.Command, e env) {
	root.AddCommand(newBenchCmd(e))
	root.AddCommand(newMpesaSimCmd(e))
	root.AddCommand(newMpesaCmd(e))
	root.AddCommand(newPushSimCmd(e))
	root.AddCommand(newRatingsCmd(e))
	root.AddCommand(newPaymentsCmd(e))
	root.AddCommand(newCeleryCmd(e))
	root.AddCommand(newDLQCmd(e))
	root.AddCommand(newTasksCmd(e))
}
