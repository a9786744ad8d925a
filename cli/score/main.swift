import ScoreCLI

ScoreCommand.pipelineMain()
