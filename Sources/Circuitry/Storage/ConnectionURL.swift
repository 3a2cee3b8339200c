import Foundation

/// What the server stores share about their connection URLs (`postgres://…`, `redis://…`).
package enum ConnectionURL {
    /// The URL with any password replaced by `***`, for messages: a configuration error quotes the URL it could not
    /// use, never the password in it.
    package static func redacted(_ url: String) -> String {
        if var components = URLComponents(string: url) {
            guard components.password != nil else { return url }
            components.password = "***"
            return components.string ?? "(unreadable URL)"
        }
        // A URL that does not parse may still hold a password: hide everything after the first `:` of what comes
        // before the last `@` (more than the password if a later part has an `@` too, never less).
        guard let start = url.range(of: "://")?.upperBound, let at = url.lastIndex(of: "@"), start < at,
            let colon = url[start..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
