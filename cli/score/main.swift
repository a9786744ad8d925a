import Foundation
import ScoreCLI

// A closed output pipe comes back as EPIPE, so the run can remove its partial files and exit with
// the documented status (141) instead of dying where it stands.
signal(SIGPIPE, SIG_IGN)
ScoreCommand.pipelineMain()
