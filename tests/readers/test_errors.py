"""Error texts name the file once: naming_file puts it in front only when missing, without_file drops it where
the page shows the file's name beside the error."""
from readers import ParseError, naming_file, without_file


def test_it_names_the_file_once():
    error = str(ParseError("no LAND table found", file="X.xlsx", sheet="Sheet1"))
    assert naming_file(error, "X.xlsx") == "file 'X.xlsx', sheet 'Sheet1': no LAND table found"
    assert naming_file("no importer is installed for 'eis' files", "X.mpt") == (
        "file 'X.mpt': no importer is installed for 'eis' files")


def test_it_drops_the_file_where_the_page_names_it():
    assert without_file("file 'X.xlsx', sheet 'Record', row 7: 'abc' is not a number", "X.xlsx") == (
        "sheet 'Record', row 7: 'abc' is not a number")
    assert without_file("file 'X.xlsx': the file is empty", "X.xlsx") == "the file is empty"
    assert without_file("file 'Y.xlsx': the file is empty", "X.xlsx") == "file 'Y.xlsx': the file is empty"
