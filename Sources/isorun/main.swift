import IsorunCLI

IsorunCommand.runAndExit()
