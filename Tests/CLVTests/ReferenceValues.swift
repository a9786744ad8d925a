// Reference values for the CLV tests. Every number here was computed outside this package with Python's
// mpmath 1.3 (see the comment above each table); none was produced by the code under test.

enum Ref {
    // (a, b, c, z, 2F1) — reference values from mpmath 1.3 (mp.dps = 50, mpmath.hyp2f1).
    static let twoF1Reference: [(Double, Double, Double, Double, Double)] = [
        (0.2426, 2.4259, 2.2188, 0.8983360053070927, 1.9354769323290908),
        (2.2426, 4.4259, 4.2188, 0.4740281208066743, 4.5743234807916805),
        (0.2426, 2.4259, 2.2188, 0.5, 1.2067380787142852),
        (10.2426, 12.4259, 12.2188, 0.3, 41.130925160134307),
        (50.2426, 52.4259, 52.2188, 0.5, 1531610523390386.7),
        (200.2426, 202.4259, 202.2188, 0.95, 6.1692423399854786e+260),
        (30.5, 31.2, 33.7, 0.999, 1.3016930375880911e+84),
        (1.5, 3.0, 4.5, 0.9999, 46.595582047620668),
        (0.7, 2.1, 1.9, 0.99, 48.500580624996773),
        (1.159, 1.606, 2.159, 0.0938, 1.0882572579931325),
        (3.159, 1.606, 4.159, 0.99, 70.145765716967233),
        (3.159, 2.553, 4.159, 0.5, 3.7065782013393599),
        (0.7, 0.2, 1.7, 0.999999, 1.1936589059884081),
        (0.7, 1.6, 1.7, 0.999, 73.276764773048669),
        (2.55, 2.0000001, 3.55, 0.97, 75.396031969661102),
        (25.6, 1.3, 26.6, 0.995, 169.403026344232),
        (1.0, 0.553, 1.606, 0.95, 2.2361640770108358),
        (1.0, 1.0, 2.0, 0.95, 3.1534023932147266),
        (0.5, 0.5, 1.0, 0.99, 2.3527158167797423),
        (1.5, 2.5, 6.0, 0.98, 2.9133776333193784),
        (1.5, 2.5, 6.00003, 0.98, 2.9133500359418509),
        (0.3, 0.8, 2.1, 0.999999999, 1.251942588828215),
        (0.7, 1.3, 2.2, -0.5, 0.84013370896869238),
        (2.5, 1.5, 3.0, -5.0, 0.094449934806769456),
        (0.9, 3.1, 4.6, -1000.0, 0.0032030939666871236),
        (12.0, 7.5, 3.25, -0.8, 3.9141915659072354e-5),
        (0.5, 1.5, 2.5, -100000000.0, 0.00014999998589476867),
        (1.0, 1.0, 2.0, 1e-06, 1.0000005000003333),
        (5.0, 0.5, 2.0, 0.7, 10.560352936466306),
    ]
    // log 2F1(800.5, 900.25; 10.5; 0.9) (overflows Double) and log 2F1(2000.5, 1.5; 2001.5; 0.99999), mpmath 1.3.
    static let logTwoF1Reference: [(Double, Double, Double, Double, Double)] = [
        (800.5, 900.25, 10.5, 0.9, 4962.603016138568),
        (2000.5, 1.5, 2001.5, 0.99999, 13.808469129386057),
    ]

    // BG/NBD per-customer log-likelihoods, mpmath 1.3 at 30 digits from FHL (2005) eq. 6 (with mpmath's
    // loggamma/beta). Cross-checked against the log of the double integral, by mpmath quad, over lambda ~
    // Gamma(r, alpha) and p ~ Beta(a, b) of the individual likelihood (FHL eq. 3): agreement within 2e-6
    // (the quadrature's accuracy). (r, alpha, a, b, x, t_x, T, LL)
    static let bgnbdLL: [(Double, Double, Double, Double, Double, Double, Double, Double)] = [
        (0.243, 4.414, 0.793, 2.426, 0, 0, 38.86, -0.55471327643815845),
        (0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86, -9.4586063070662712),
        (0.243, 4.414, 0.793, 2.426, 1, 1.71, 38.86, -4.4690932750325885),
        (0.243, 4.414, 0.793, 2.426, 7, 29.43, 35.0, -21.380329155953554),
        (0.243, 4.414, 0.793, 2.426, 1, 0, 20.0, -3.9893135949601583),
        (1.7, 12.0, 3.5, 1.2, 0, 0, 38.86, -2.4550891873501546),
        (1.7, 12.0, 3.5, 1.2, 2, 30.43, 38.86, -9.6930373567314979),
        (1.7, 12.0, 3.5, 1.2, 1, 1.71, 38.86, -2.5988662889718469),
        (1.7, 12.0, 3.5, 1.2, 7, 29.43, 35.0, -23.330332033947179),
        (1.7, 12.0, 3.5, 1.2, 1, 0, 20.0, -2.2251017114604385),
    ]
    // Pareto/NBD per-customer log-likelihoods, mpmath 1.3 at 30 digits from Fader & Hardie's (2005) note
    // (both alpha >= beta and alpha < beta forms, with mpmath.hyp2f1). Cross-checked against the log of the
    // double integral, by mpmath quad, over lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta) of the individual
    // likelihood: agreement within 1e-7 (the quadrature's accuracy).
    // Covers alpha < beta, alpha >= beta, and z > 0.9 (alpha << beta, alpha >> beta). (r, alpha, s, beta, x, t_x, T, LL)
    static let paretoLL: [(Double, Double, Double, Double, Double, Double, Double, Double)] = [
        (0.553, 10.578, 0.606, 11.669, 0, 0, 38.86, -0.52104629408089031),
        (0.553, 10.578, 0.606, 11.669, 2, 30.43, 38.86, -9.5542832451504058),
        (0.553, 10.578, 0.606, 11.669, 1, 1.71, 38.86, -4.4501943338810115),
        (0.553, 10.578, 0.606, 11.669, 7, 29.43, 35.0, -21.092291402493124),
        (0.553, 10.578, 0.606, 11.669, 1, 0, 20.0, -4.0201849053042972),
        (0.9, 15.0, 1.4, 6.0, 0, 0, 38.86, -0.28004347132002787),
        (0.9, 15.0, 1.4, 6.0, 2, 30.43, 38.86, -11.036320316423601),
        (0.9, 15.0, 1.4, 6.0, 1, 1.71, 38.86, -3.921648254637219),
        (0.9, 15.0, 1.4, 6.0, 7, 29.43, 35.0, -22.577142198981908),
        (0.9, 15.0, 1.4, 6.0, 1, 0, 20.0, -3.3068131537679164),
        (0.4, 2.0, 0.3, 60.0, 0, 0, 38.86, -1.1329564168207979),
        (0.4, 2.0, 0.3, 60.0, 2, 30.43, 38.86, -9.3213385454537661),
        (0.4, 2.0, 0.3, 60.0, 1, 1.71, 38.86, -5.4026587397257085),
        (0.4, 2.0, 0.3, 60.0, 7, 29.43, 35.0, -20.003046657935021),
        (0.4, 2.0, 0.3, 60.0, 1, 0, 20.0, -4.6889672442282129),
        (1.2, 80.0, 0.5, 3.0, 0, 0, 38.86, -0.19124965213320176),
        (1.2, 80.0, 0.5, 3.0, 2, 30.43, 38.86, -10.251556824728612),
        (1.2, 80.0, 0.5, 3.0, 1, 1.71, 38.86, -4.8458709363749743),
        (1.2, 80.0, 0.5, 3.0, 7, 29.43, 35.0, -25.805665956923997),
        (1.2, 80.0, 0.5, 3.0, 1, 0, 20.0, -4.445385205340446),
    ]
    // Gamma-Gamma log-density of the mean m of x transactions, mpmath 1.3 at 30 digits from the closed form of
    // Fader & Hardie's Gamma-Gamma note; cross-checked against the log integral over nu ~ Gamma(q, gamma) of the
    // Gamma(px, rate nu x) density of m (mpmath quad): agreement within 5e-15. (p, q, gamma, x, m, LL)
    static let gammaGammaLL: [(Double, Double, Double, Double, Double, Double)] = [
        (6.25, 3.74, 15.44, 1, 25.0, -3.7411557500193454),
        (6.25, 3.74, 15.44, 3, 41.2, -4.3988983698447753),
        (6.25, 3.74, 15.44, 10, 12.5, -3.9910179489450528),
        (0.8, 1.5, 3.0, 1, 25.0, -6.5370150911794064),
        (0.8, 1.5, 3.0, 3, 41.2, -7.8181220407378515),
        (0.8, 1.5, 3.0, 10, 12.5, -5.0606335227569456),
    ]

    // Predictions, mpmath 1.3 at 30 digits from the closed forms (FHL 2005 eqs. 7, 10 and P(alive) for BG/NBD with
    // mpmath.hyp2f1; Schmittlein et al. / Fader & Hardie note for Pareto/NBD). The BG/NBD conditional expectation
    // for (x=2, t_x=30.43, T=38.86, t=39) was also checked by a direct double integral over the posterior of
    // (lambda, p): 1.2259226579870330 at the 4-decimal parameters, equal to the closed form to 20 digits.
    static let bgParams = (r: 0.243, alpha: 4.414, a: 0.793, b: 2.426)
    static let bgCondCustomer39 = 1.2260281747671444  // x=2, t_x=30.43, T=38.86, t=39
    static let bgAliveCustomer = 0.72657857008067291  // x=2, t_x=30.43, T=38.86
    static let bgCondX0 = 0.19509805201126264  // x=0, T=38.86, t=39
    static let bgCondX20 = 13.052103248177744  // x=20, t_x=37.1, T=38.86, t=39
    static let bgCond520 = 7.3193138117111047  // x=2, t_x=30.43, T=38.86, t=520
    static let bgUnc39 = 1.1967231933208168
    static let bgUnc78 = 1.8605190579427685
    static let bgCondNearA1 = 1.1019183310055979  // a = 1.0004, customer above, t=39
    static let bgUncNearA1 = 1.0840889667341828  // a = 1.0004, t=39
    static let bgLifetimeA25 = 1.806960073699831  // a = 2.5, customer above, t = infinity
    static let pnParams = (r: 0.553, alpha: 10.578, s: 0.606, beta: 11.669)
    static let pnAliveCustomer = 0.86916755915301119
    static let pnCondCustomer39 = 1.4551231932576024
    static let pnCondX0 = 0.10708146821530885
    static let pnUnc39 = 1.2130028442810157
    static let pnQ3AliveX1 = 0.69501025935867395  // (0.4, 2, 0.3, 60), x=1, t_x=0, T=20
    static let pnQ3CondX1 = 2.1221210127476627  // same, t=52
    static let pnCondS1 = 1.1860522822793437  // s = 1 exactly (limit), customer above, t=39

    // log 2F1(1, P; Q; z), the function behind the Pareto/NBD likelihood (series for z <= 0.9, continued
    // fraction above), mpmath 1.3 at 40 digits. (P, Q, z, log 2F1)
    static let logGReference: [(Double, Double, Double, Double)] = [
        (1.18, 256.9, 0.98, 0.0045288363052314491),
        (1.18, 2.9, 0.98, 0.84149303512845483),
        (0.7, 1.9, 0.999, 1.229516346191569),
        (0.7, 1.9, 0.9999, 1.3394017336094868),
        (1.18, 1.92, 0.999, 2.9156237271738164),
        (30.7, 32.0, 0.99, 3.4059484293891943),
        (1.606, 2.159, 0.0938, 0.072927709129566711),
        (1.2, 3.5, 0.85, 0.44594605151122476),
        (2.0, 2.2, 0.95, 2.5951339087083574),
    ]
}
