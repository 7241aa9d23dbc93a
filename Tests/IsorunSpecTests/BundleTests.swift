#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import IsorunSpec

@Suite("Loading a bundle from disk")
struct BundleTests {
    private let minimalJSON = #"{"ociVersion": "1.2.0", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"}}"#

    @Test func relativeRootPathResolvesToAnAbsoluteRootfs() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: false)
            try write(minimalJSON, to: dir + "/config.json")

            // A messy spelling of the directory must come out normalised.
            let bundle = try IsorunSpec.Bundle.load(directory: dir + "/./")
            #expect(bundle.directory == dir)
            #expect(bundle.rootfsPath == dir + "/rootfs")
            #expect(bundle.rootfsPath.hasPrefix("/"))
            #expect(bundle.configPath == dir + "/config.json")
            #expect(bundle.config.process?.args == ["/bin/true"])
        }
    }

    @Test func fullConfigLoads() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: false)
            try write(fullConfigJSON, to: dir + "/config.json")
            let bundle = try IsorunSpec.Bundle.load(directory: dir)
            #expect(bundle.config.hostname == "isorun")
        }
    }

    @Test func missingRootfsNamesTheResolvedPath() throws {
        try withTemporaryDirectory { dir in
            try write(minimalJSON, to: dir + "/config.json")
            let error = try #require(specError { _ = try IsorunSpec.Bundle.load(directory: dir) })
            #expect(error.file == dir + "/config.json")
            #expect(error.jsonPath == "root.path")
            #expect(error.message.contains(dir + "/rootfs"))
            #expect(error.message.contains("does not exist"))
        }
    }

    @Test func missingRootfsIsFineWhenNotRequired() throws {
        try withTemporaryDirectory { dir in
            try write(minimalJSON, to: dir + "/config.json")
            let bundle = try IsorunSpec.Bundle.load(directory: dir, requireRootfs: false)
            #expect(bundle.rootfsPath == dir + "/rootfs")
        }
    }

    @Test func missingRootSectionIsReported() throws {
        try withTemporaryDirectory { dir in
            try write(#"{"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "/"}}"#, to: dir + "/config.json")
            let error = try #require(specError { _ = try IsorunSpec.Bundle.load(directory: dir) })
            #expect(error.jsonPath == "root")
        }
    }

    @Test func missingBundleDirectoryIsReported() throws {
        try withTemporaryDirectory { dir in
            let missing = dir + "/nope"
            let error = try #require(specError { _ = try IsorunSpec.Bundle.load(directory: missing) })
            #expect(error.file == missing)
            #expect(error.jsonPath == nil)
            #expect(error.message.contains("no such file or directory"))
        }
    }

    @Test func missingConfigFileGivesTheReason() throws {
        try withTemporaryDirectory { dir in
            let error = try #require(specError { _ = try IsorunSpec.Bundle.load(directory: dir) })
            #expect(error.file == dir + "/config.json")
            #expect(error.description == "\(dir)/config.json: cannot read config.json: no such file or directory")
        }
    }

    @Test func configThatIsADirectoryGivesTheReason() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/config.json", withIntermediateDirectories: false)
            let error = try #require(specError { _ = try IsorunSpec.Bundle.load(directory: dir) })
            #expect(error.message == "cannot read config.json: is a directory")
        }
    }

    @Test func validationErrorsSurfaceFromLoad() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: false)
            try write(#"{"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "tmp"}, "root": {"path": "rootfs"}}"#,
                      to: dir + "/config.json")
            let error = try #require(specError { _ = try IsorunSpec.Bundle.load(directory: dir) })
            #expect(error.jsonPath == "process.cwd")
        }
    }

    @Test func pathsAreNormalisedLexically() {
        #expect(absolutePath("rootfs", relativeTo: "/b") == "/b/rootfs")
        #expect(absolutePath("../shared//rootfs/.", relativeTo: "/b/x") == "/b/shared/rootfs")
        #expect(absolutePath("/abs/path/", relativeTo: "/ignored") == "/abs/path")
        #expect(absolutePath("../..", relativeTo: "/") == "/")
    }
}
