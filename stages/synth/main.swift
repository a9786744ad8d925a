import ArgumentParser
import Base
import Foundation
import PipelineCLI
import Provenance
import Synthetic
import Tabular

struct SynthStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-synth",
        abstract: "Generates the example project's data: a randomized campaign with known per-arm uplift and an order log drawn from BG/NBD and Gamma-Gamma.",
        discussion: """
            Deterministic: the same parameters give the same bytes on every machine. Writes into --out: campaign.csv (comma-separated, \
            string customer keys, an unequal design), campaign_truth.csv (each customer's true revenue uplift per treated arm), \
            orders.csv (';'-delimited, DD/MM/YYYY HH:MM dates, decimal commas, shipping fees, guest orders, returns), \
            truth.json (the true model parameters) and manifest.json.
            """)

    @Option(help: "Generator parameters (YAML): seed, campaign, orders.")
    var params = "examples/synthetic/synth.yaml"

    @Option(help: "Output directory.")
    var out = "data/raw/synthetic"

    func run() throws {
        let (p, raw) = try Params.load(SyntheticParams.self, from: params)
        let run = StageRun(stage: "synth", manifestPath: out + "/manifest.json")
        run.parameters = raw
        run.input(params)
        do {
            let (campaign, truth) = try SyntheticCampaign.generate(p.campaign, seed: p.seed)
            try run.write(campaign, to: out + "/campaign.csv")
            try run.write(truth, to: out + "/campaign_truth.csv")
            try run.write(try SyntheticOrderLog.generate(p.orders, seed: p.seed), to: out + "/orders.csv")
        } catch let error as SyntheticError {
            throw DataError(file: params, message: error.description)
        }
        let truth: JSONValue = .object([
            "bgnbd": .object([
                "r": .number(p.orders.bgnbd.r), "alpha": .number(p.orders.bgnbd.alpha), "a": .number(p.orders.bgnbd.a), "b": .number(p.orders.bgnbd.b),
            ]),
            "gamma_gamma": .object(["p": .number(p.orders.gammaGamma.p), "q": .number(p.orders.gammaGamma.q), "gamma": .number(p.orders.gammaGamma.gamma)]),
            "time_unit_days": .number(7),
            "uplift": .string("campaign_truth.csv: true_uplift_<arm> = E[revenue | x, arm] - E[revenue | x, control]"),
        ])
        try run.write(truth.rendered() + "\n", to: out + "/truth.json")
        try run.finish()
        print("synth: \(p.campaign.customers) campaign rows, \(p.orders.customers) order-log customers (\(out))")
    }
}

SynthStage.pipelineMain()
