"""Namespace constants and the prefixes bound on every graph mlkg writes."""

from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, OWL, PROV, RDF, RDFS, SH, SKOS, VOID, XSD

BASE = "https://w3id.org/mlkg/"
MLKG = Namespace(BASE + "def/")
SCHEMA = Namespace("http://schema.org/")
OA = Namespace("http://www.w3.org/ns/oa#")
ESCO = Namespace("http://data.europa.eu/esco/model#")
SOURCE = Namespace(BASE + "source/")

PREFIXES: dict[str, str] = {
    "mlkg": str(MLKG),
    "schema": str(SCHEMA),
    "skos": str(SKOS),
    "prov": str(PROV),
    "dcterms": str(DCTERMS),
    "oa": str(OA),
    "esco": str(ESCO),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "sh": str(SH),
    "void": str(VOID),
    "dcat": str(DCAT),
}

__all__ = ["BASE", "ESCO", "MLKG", "OA", "PREFIXES", "SCHEMA", "SOURCE"]
