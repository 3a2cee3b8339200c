#if DynamoDB
import Circuitry
import Foundation

/// An AWS access key, and the session token that comes with temporary credentials.
///
/// The secret never appears in a description, an error or a log line.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The access key id (`AKIA…`, or `ASIA…` for temporary credentials).
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials (STS, an assumed role, Lambda's execution role).
    public var sessionToken: String?

    /// Credentials given in code.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The access key id only.
    public var description: String { "AWS access key \(accessKeyID)" }

    /// Where the store finds its credentials.
    public enum Source: Sendable, Hashable {
        /// As the AWS CLI and SDKs look, minus the sources that need a network call: the environment variables
        /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, then the profile `AWS_PROFILE`
        /// (default `default`) of the shared credentials file `AWS_SHARED_CREDENTIALS_FILE` (default
        /// `~/.aws/credentials`).
        case standard
        /// A profile of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
        /// `~/.aws/credentials`).
        case profile(String)
        /// These credentials.
        case fixed(AWSCredentials)
    }

    /// Finds credentials from `source`, reading `environment` (the process's, in production).
    ///
    /// - Throws: `ConfigurationError` naming what was looked at, when nothing was found or the file has no
    ///   such profile or a profile lacks a key.
    static func resolve(_ source: Source, environment: [String: String]) throws(ConfigurationError)
        -> AWSCredentials
    {
        switch source {
        case .fixed(let credentials):
            return credentials
        case .profile(let name):
            return try fromFile(profile: name, environment: environment, required: true)!
        case .standard:
            if let credentials = try fromEnvironment(environment) { return credentials }
            let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
            if let credentials = try fromFile(
                profile: profile ?? "default", environment: environment, required: profile != nil)
            {
                return credentials
            }
            throw ConfigurationError(
                setting: "credentials",
                message: "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                    + "with a profile in \(credentialsFile(environment))")
        }
    }

    private static func fromEnvironment(_ environment: [String: String]) throws(ConfigurationError)
        -> AWSCredentials?
    {
        let id = environment["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (id, secret) {
        case (nil, nil):
            return nil
        case (let id?, let secret?):
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
        default:
            throw ConfigurationError(
                setting: "credentials",
                message: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together; only one is")
        }
    }

    /// `AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/credentials`.
    static func credentialsFile(_ environment: [String: String]) -> String {
        if let path = environment["AWS_SHARED_CREDENTIALS_FILE"], !path.isEmpty {
            return path.hasPrefix("~/") ? home(environment) + path.dropFirst() : path
        }
        return home(environment) + "/.aws/credentials"
    }

    private static func home(_ environment: [String: String]) -> String {
        environment["HOME"] ?? NSHomeDirectory()
    }

    /// The profile's keys from the credentials file; `nil` if the file is missing and `required` is false.
    private static func fromFile(profile: String, environment: [String: String], required: Bool)
        throws(ConfigurationError) -> AWSCredentials?
    {
        let path = credentialsFile(environment)
        guard let data = FileManager.default.contents(atPath: path) else {
            guard required else { return nil }
            throw ConfigurationError(
                setting: "credentials",
                message: "the AWS profile \(profile.debugDescription) was asked for, but \(path) cannot be read")
        }
        let sections = parseINI(String(decoding: data, as: UTF8.self))
        guard let values = sections[profile] else {
            guard required else { return nil }
            throw ConfigurationError(
                setting: "credentials", message: "\(path) has no profile \(profile.debugDescription)")
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"],
            !id.isEmpty, !secret.isEmpty
        else {
            throw ConfigurationError(
                setting: "credentials",
                message: "the profile \(profile.debugDescription) in \(path) lacks aws_access_key_id or "
                    + "aws_secret_access_key (profiles that assume a role or use SSO need an AWS SDK)")
        }
        return AWSCredentials(
            accessKeyID: id, secretAccessKey: secret,
            sessionToken: values["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `[section]` headers and `key = value` lines; `#` and `;` start comments; keys are lower-cased.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                var name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                // The config file's style (`[profile name]`) is accepted in the credentials file too.
                if name.hasPrefix("profile ") { name = name.dropFirst(8).trimmingCharacters(in: .whitespaces) }
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current, default: [:]][key] = value
        }
        return sections
    }
}
#endif
