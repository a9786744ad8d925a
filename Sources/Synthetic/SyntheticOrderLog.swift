import Foundation
import Stats
import Tabular

/// An order log drawn from the BG/NBD purchase process and the Gamma-Gamma spend model with known
/// parameters, written the way many European shops export it: `;`-delimited, `DD/MM/YYYY HH:MM`
/// dates, decimal commas, shipping-fee lines, guest orders without a customer and returns.
///
/// Time is in weeks. Customer i is acquired at a uniform time in the first `acquisitionWeeks`
/// (its first purchase), then buys at rate λ_i ~ Gamma(r, α) and, after each repeat purchase,
/// drops out with probability p_i ~ Beta(a, b) (Fader, Hardie & Lee 2005). Each purchase's
/// merchandise value is z ~ Gamma(p, ν_i) with ν_i ~ Gamma(q, γ) (Fader, Hardie & Lee 2005b).
public struct SyntheticOrderLog: Sendable {
    public struct BGNBD: Codable, Sendable, Equatable {
        public var r: Double
        public var alpha: Double
        public var a: Double
        public var b: Double
    }

    public struct GammaGamma: Codable, Sendable, Equatable {
        public var p: Double
        public var q: Double
        public var gamma: Double
    }

    public struct Spec: Codable, Sendable, Equatable {
        public var customers: Int
        /// First day of the log, YYYY-MM-DD.
        public var start: String
        public var weeks: Int
        public var acquisitionWeeks: Int
        public var bgnbd: BGNBD
        public var gammaGamma: GammaGamma
        /// Orders without a customer account, as a share of customers' orders.
        public var guestOrderShare: Double
        /// Share of orders of which one line is later returned (a cancellation invoice).
        public var returnShare: Double
        /// Postage line added to orders below the free-shipping threshold.
        public var shippingFee: Double

        enum CodingKeys: String, CodingKey {
            case customers, start, weeks, bgnbd
            case acquisitionWeeks = "acquisition_weeks"
            case gammaGamma = "gamma_gamma"
            case guestOrderShare = "guest_order_share"
            case returnShare = "return_share"
            case shippingFee = "shipping_fee"
        }
    }

    public static let header = ["order_no", "sku", "qty", "unit_price", "order_date", "client", "country"]
    public static let shippingCode = "SHIP"
    public static let returnPrefix = "R"
    static let countries = ["DE", "FR", "NL", "IT", "ES"]

    /// The log's text. Each purchase is one order whose merchandise lines sum to its value z.
    /// Returned lines come back as a separate order `R<order>` with a negative quantity; the
    /// truth (z) is the value before returns.
    public static func generate(_ spec: Spec, seed: UInt64) throws -> [UInt8] {
        guard spec.customers >= 10 else { throw SyntheticError("orders.customers must be at least 10") }
        guard spec.weeks > spec.acquisitionWeeks, spec.acquisitionWeeks > 0 else {
            throw SyntheticError("orders.weeks must exceed orders.acquisition_weeks, which must be positive")
        }
        guard let startDay = CalendarDay.parse(spec.start) else { throw SyntheticError("orders.start '\(spec.start)' is not YYYY-MM-DD") }
        let m = spec.bgnbd, g = spec.gammaGamma
        let end = Double(spec.weeks)

        // (minute of the log, order text) so that orders can be written in time order.
        var orders: [(minute: Int, order: Int, lines: [String])] = []
        var orderNumber = 500_000
        var s = Sampler(SeededGenerator.derived(seed: seed, index: 3))

        func line(_ order: Int, _ sku: String, _ quantity: Int, _ price: String, _ minute: Int, _ customer: String, _ country: String, prefix: String = "")
            -> String
        {
            let (y, mo, d) = CalendarDay.civil(startDay + minute / 1440)
            let hh = (minute % 1440) / 60, mm = minute % 60
            let date = String(format: "%02d/%02d/%04d %02d:%02d", d, mo, y, hh, mm)
            return [prefix + String(order), sku, String(quantity), price, date, customer, country].joined(separator: ";")
        }

        func minute(_ weeks: Double, _ s: inout Sampler) -> Int {
            // The purchase's day, at a shop-hours time of day.
            let day = Int((weeks * 7).rounded(.down))
            return day * 1440 + 8 * 60 + s.generator.next(below: 12 * 60)
        }

        func order(customer: String, country: String, at time: Int, value z: Double, _ s: inout Sampler) {
            orderNumber += 1
            let number = orderNumber
            // Split z into one to three lines of quantity × unit price (cents).
            let parts = 1 + s.generator.next(below: 3)
            var weights = (0..<parts).map { _ in s.gamma(2, rate: 1) }
            let sum = weights.reduce(0, +)
            weights = weights.map { $0 / sum }
            var lines: [String] = []
            var returnable: (sku: String, price: String)?
            for w in weights {
                let quantity = 1 + s.generator.next(below: 3)
                let unitCents = max(1, Int((z * w / Double(quantity) * 100).rounded()))
                let sku = "SKU\(10_000 + s.generator.next(below: 5000))"
                let price = euro(unitCents)
                lines.append(line(number, sku, quantity, price, time, customer, country))
                returnable = (sku, price)
            }
            if z < 50 { lines.append(line(number, shippingCode, 1, euro(Int((spec.shippingFee * 100).rounded())), time, customer, country)) }
            orders.append((time, number, lines))
            if let item = returnable, s.bernoulli(spec.returnShare) {
                let back = time + 1440 * (2 + s.generator.next(below: 10))
                if back < Int(end * 7) * 1440 {
                    orders.append((back, number, [line(number, item.sku, -1, item.price, back, customer, country, prefix: returnPrefix)]))
                }
            }
        }

        var customerOrders = 0
        for i in 0..<spec.customers {
            let customer = "CL\(10_000 + i)"
            let country = countries[s.generator.next(below: countries.count)]
            let lambda = s.gamma(m.r, rate: m.alpha)
            let pDrop = s.beta(m.a, m.b)
            let nu = s.gamma(g.q, rate: g.gamma)
            var t = s.uniform() * Double(spec.acquisitionWeeks)
            var at = minute(t, &s)
            order(customer: customer, country: country, at: at, value: s.gamma(g.p, rate: nu), &s)
            customerOrders += 1
            while true {
                t += s.exponential(rate: lambda)
                if t >= end { break }
                let next = minute(t, &s)
                // The models count customer-days: a second purchase on the same day is not drawn
                // (a thinning of about λ/7, under 2% for the typical customer here).
                if next / 1440 == at / 1440 { continue }
                at = next
                order(customer: customer, country: country, at: at, value: s.gamma(g.p, rate: nu), &s)
                customerOrders += 1
                // The BG/NBD dropout: right after each repeat purchase, with probability p.
                if s.bernoulli(pDrop) { break }
            }
        }
        // Guest orders: no customer account, so no customer-level model can use them.
        let guests = Int((Double(customerOrders) * spec.guestOrderShare).rounded())
        for _ in 0..<guests {
            let at = minute(s.uniform() * end, &s)
            order(customer: "", country: countries[s.generator.next(below: countries.count)], at: at, value: s.gamma(g.p, rate: g.gamma / g.q), &s)
        }

        orders.sort { ($0.minute, $0.order) < ($1.minute, $1.order) }
        var text = header.joined(separator: ";") + "\n"
        for o in orders {
            for l in o.lines { text += l + "\n" }
        }
        return Array(text.utf8)

    }

    static func euro(_ cents: Int) -> String {
        let sign = cents < 0 ? "-" : ""
        let c = abs(cents)
        return "\(sign)\(c / 100),\(String(format: "%02d", c % 100))"
    }

}
