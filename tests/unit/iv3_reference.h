/*
 * iv3_reference.h - reference section 1.5 (shared/reference/keras-hello-world.md):
 * InceptionV3's 188 weighted layers in model.layers order, which is the
 * order of Keras' weights file. "C12" is conv2d_12, "B12"
 * batch_normalization_12. Used by the model and weights-file tests.
 */
#ifndef HELLODL_IV3_REFERENCE_H
#define HELLODL_IV3_REFERENCE_H

static const char *const iv3_weighted_order =
    "C1 B1 C2 B2 C3 B3 C4 B4 C5 B5 "
    "C9 B9 C7 C10 B7 B10 C6 C8 C11 C12 B6 B8 B11 B12 "
    "C16 B16 C14 C17 B14 B17 C13 C15 C18 C19 B13 B15 B18 B19 "
    "C23 B23 C21 C24 B21 B24 C20 C22 C25 C26 B20 B22 B25 B26 "
    "C28 B28 C29 B29 C27 C30 B27 B30 "
    "C35 B35 C36 B36 C32 C37 B32 B37 C33 C38 B33 B38 C31 C34 C39 C40 B31 B34 B39 B40 "
    "C45 B45 C46 B46 C42 C47 B42 B47 C43 C48 B43 B48 C41 C44 C49 C50 B41 B44 B49 B50 "
    "C55 B55 C56 B56 C52 C57 B52 B57 C53 C58 B53 B58 C51 C54 C59 C60 B51 B54 B59 B60 "
    "C65 B65 C66 B66 C62 C67 B62 B67 C63 C68 B63 B68 C61 C64 C69 C70 B61 B64 B69 B70 "
    "C73 B73 C74 B74 C71 C75 B71 B75 C72 C76 B72 B76 "
    "C81 B81 C78 C82 B78 B82 C79 C80 C83 C84 C77 B79 B80 B83 B84 C85 B77 B85 "
    "C90 B90 C87 C91 B87 B91 C88 C89 C92 C93 C86 B88 B89 B92 B93 C94 B86 B94";

#endif
