import Base

/// The OpenAPI 3.1 description of the service; a test checks every route and status against it.
enum OpenAPIDocument {
    static func response(
        _ description: String, _ type: String = "application/json", schema: JSONValue = .object(["$ref": .string("#/components/schemas/Error")])
    )
        -> JSONValue
    {
        .object(["description": .string(description), "content": .object([type: .object(["schema": schema])])])
    }

    static let errors: [String: JSONValue] = [
        "404": response("No such route."),
        "405": response("The route exists but not with this method (the Allow header lists the methods)."),
    ]

    static func parameter(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
        .object(["name": .string(name), "in": .string("query"), "required": .bool(false), "description": .string(description), "schema": schema])
    }

    static let string: JSONValue = .object(["type": .string("string")])
    static let number: JSONValue = .object(["type": .string("number")])
    static let integer: JSONValue = .object(["type": .string("integer")])
    static let csv: JSONValue = .object(["type": .string("string"), "contentMediaType": .string("text/csv")])

    static func get(_ summary: String, _ ok: JSONValue) -> JSONValue {
        .object(["get": .object(["summary": .string(summary), "responses": .object(["200": ok].merging(errors) { a, _ in a })])])
    }

    static let scoreFields: JSONValue = .object([
        "type": .string("object"), "required": .array([.string("file")]),
        "properties": .object([
            "file": .object(["type": .string("string"), "contentMediaType": .string("text/csv"), "description": .string("The contact list.")]),
            "margin": number, "cost": .object(["type": .string("array"), "items": string]), "policy": string, "topn": integer,
        ]),
    ])

    static let document: JSONValue = .object([
        "openapi": .string("3.1.0"),
        "info": .object([
            "title": .string("Uplift scoring service"), "version": .string("1"),
            "description": .string(
                "Scores a contact list with the frozen uplift model and decides whom to contact with which treated arm; the same scores as the score CLI."),
        ]),
        "paths": .object([
            "/health": get(
                "Status, model format version, model checksum, learner, uptime and the recorded economics.", response("The service is up.", schema: health)),
            "/openapi.json": get("This document.", response("OpenAPI 3.1 document.", schema: .object(["type": .string("object")]))),
            "/": get("The campaign simulator page.", response("HTML page.", "text/html", schema: string)),
            "/app.js": get("The simulator page's script.", response("JavaScript.", "text/javascript", schema: string)),
            "/app.css": get("The simulator page's style sheet.", response("CSS.", "text/css", schema: string)),
            "/sample.csv": get("A small synthetic contact list in the model's columns.", response("CSV.", "text/csv", schema: csv)),
            "/score": .object([
                "post": .object([
                    "summary": .string("Scores a CSV (multipart field 'file' or a text/csv body)."),
                    "description": .string(
                        "Settings are query parameters or form fields; what is not given comes from the economics recorded with the model. "
                            + "cost is a number (every arm) or NAME=COST (one arm; repeatable). The answer is JSON, or the scored CSV "
                            + "(byte-identical to `score --out -`) when the Accept header asks for text/csv."),
                    "parameters": .array([
                        parameter("margin", "Share of incremental revenue that is profit, in (0, 1].", number),
                        parameter("cost", "Cost per contact: a number for every arm, or NAME=COST for one arm (repeatable).", string),
                        parameter(
                            "policy", "bestN, positive or topn.",
                            .object(["type": .string("string"), "enum": .array(["bestN", "positive", "topn"].map { .string($0) })])),
                        parameter("topn", "Customers to contact with policy topn.", integer),
                    ]),
                    "requestBody": .object([
                        "required": .bool(true),
                        "content": .object(["multipart/form-data": .object(["schema": scoreFields]), "text/csv": .object(["schema": csv])]),
                    ]),
                    "responses": .object(
                        [
                            "200": .object([
                                "description": .string("Scored."),
                                "content": .object([
                                    "application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/ScoreResult")])]),
                                    "text/csv": .object(["schema": csv]),
                                ]),
                            ]),
                            "400": response("Bad input: the file, line, column and message, worded as the CLI words them."),
                            "413": response("The body is larger than the limit (serve --max-body)."),
                            "415": response("Neither multipart/form-data nor text/csv."),
                        ].merging(errors) { a, _ in a }),
                ])
            ]),
        ]),
        "components": .object([
            "schemas": .object([
                "Error": .object([
                    "type": .string("object"), "required": .array([.string("error")]),
                    "properties": .object([
                        "error": .object([
                            "type": .string("object"), "required": .array([.string("message")]),
                            "properties": .object([
                                "message": string, "file": string, "line": integer, "column": integer, "column_name": string,
                                "text": .object(["type": .string("string"), "description": .string("The CLI's error line (without 'error: ').")]),
                            ]),
                        ])
                    ]),
                ]),
                "ScoreResult": .object([
                    "type": .string("object"),
                    "required": .array(["summary", "settings", "profit_curve", "columns", "rows", "warnings"].map { .string($0) }),
                    "properties": .object([
                        "summary": .object([
                            "type": .string("object"),
                            "properties": .object([
                                "rows": integer, "contacts": integer,
                                "contacts_per_arm": .object(["type": .string("object"), "additionalProperties": integer]),
                                "expected_incremental_revenue": number, "cost": number, "expected_profit": number, "unknown_category_rows": integer,
                            ]),
                        ]),
                        "settings": .object(["type": .string("object")]),
                        "profit_curve": .object([
                            "type": .string("array"), "maxItems": .number(200),
                            "items": .object(["type": .string("object"), "properties": .object(["contacts": integer, "profit": number])]),
                        ]),
                        "columns": .object(["type": .string("array"), "items": string]),
                        "rows": .object(["type": .string("array"), "items": .object(["type": .string("array"), "items": string])]),
                        "warnings": .object(["type": .string("array"), "items": string]),
                    ]),
                ]),
            ])
        ]),
    ])

    static let health: JSONValue = .object([
        "type": .string("object"),
        "required": .array(["status", "model_format_version", "model_checksum", "learner", "uptime_seconds"].map { .string($0) }),
        "properties": .object([
            "status": string, "model_format_version": integer, "model_checksum": string, "learner": string, "uptime_seconds": number,
            "economics": .object(["type": .string("object")]), "required_columns": .object(["type": .string("array"), "items": string]),
        ]),
    ])
}
